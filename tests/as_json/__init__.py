"""Use cases as the API answers them, for tests written against the JSON shape: each module
mirrors a service module and wraps its use case in the serializer the API (and the CLI)
use (`commcredits.views`), so such a test checks the service and its one serializer together."""
