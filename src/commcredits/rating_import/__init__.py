"""Importers for rating decks (CGRateS tariff-plan folders, rate card CSV) and the codec.

Every importer returns a validated `Deck` or raises `DeckError` (file, 1-based line,
reason); nothing partial is ever returned.
"""

from commcredits.rating_import.cgrates import load_cgrates_files, load_cgrates_folder
from commcredits.rating_import.cgrates_update import update_cgrates_files
from commcredits.rating_import.codec import deck_from_json, deck_to_json
from commcredits.rating_import.ratecard import load_ratecard

from ..domain.rating.model import DeckError

__all__ = ["DeckError", "deck_from_json", "deck_to_json", "load_cgrates_files",
           "load_cgrates_folder", "load_ratecard", "update_cgrates_files"]
