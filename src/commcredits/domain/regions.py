"""Commercial regions, for the purchase restriction "the tenant's country and its billing
address are in different regions". Three regions, as providers' billing systems usually
group countries: Americas, EMEA (Europe, Middle East, Africa) and Asia-Pacific. A country
missing from the table is its own region (so a mismatch is refused until mitigated)."""

from __future__ import annotations

_AMERICAS = (
    "AG AI AR AW BB BL BM BO BQ BR BS BZ CA CL CO CR CU CW DM DO EC FK GD GF GP GT GY HN HT JM "
    "KN KY LC MF MQ MS MX NI PA PE PM PR PY SR SV SX TC TT US UY VC VE VG VI"
)
_EMEA = (
    "AD AE AL AM AO AT AX AZ BA BE BF BG BH BI BJ BW BY CD CF CG CH CI CM CV CY CZ DE DJ DK DZ "
    "EE EG EH ER ES ET FI FO FR GA GB GE GG GH GI GL GM GN GQ GR GW HR HU IE IL IM IQ IR IS IT "
    "JE JO KE KM KW KZ KG LB LI LR LS LT LU LV LY MA MC MD ME MG MK ML MR MT MU MW MZ NA NE NG "
    "NL NO OM PL PS PT QA RE RO RS RU RW SA SC SD SE SH SI SJ SK SL SM SN SO SS ST SY SZ TD TG TJ "
    "TM TN TR TZ UA UG UZ VA YE YT ZA ZM ZW"
)
_ASIA_PACIFIC = (
    "AF AS AU BD BN BT CC CK CN CX FJ FM GU HK ID IN IO JP KH KI KP KR LA LK MH MM MN MO MP MV "
    "MY NC NF NP NR NU NZ PF PG PH PK PN PW SB SG TH TK TL TO TV TW VN VU WF WS"
)

REGION_OF: dict[str, str] = {
    **{c: "americas" for c in _AMERICAS.split()},
    **{c: "emea" for c in _EMEA.split()},
    **{c: "asia_pacific" for c in _ASIA_PACIFIC.split()},
}


def region_of(country: str) -> str:
    return REGION_OF.get(country.upper(), country.upper())


def same_region(a: str, b: str) -> bool:
    return region_of(a) == region_of(b)
