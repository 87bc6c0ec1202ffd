"""The geography the segment parser knows: US states, Canadian provinces, countries (ISO 3166-1
alpha-2), city aliases, and the names shown back for the codes."""

US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA",
    "hawaii": "HI", "idaho": "ID", "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS",
    "kentucky": "KY", "louisiana": "LA", "maine": "ME", "maryland": "MD", "massachusetts": "MA",
    "michigan": "MI", "minnesota": "MN", "mississippi": "MS", "missouri": "MO", "montana": "MT",
    "nebraska": "NE", "nevada": "NV", "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM",
    "new york": "NY", "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK",
    "oregon": "OR", "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC",
    "south dakota": "SD", "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT",
    "virginia": "VA", "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "district of columbia": "DC", "washington dc": "DC", "washington d.c.": "DC",
}  # fmt: skip
CA_PROVINCES = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "newfoundland": "NL", "nova scotia": "NS",
    "northwest territories": "NT", "nunavut": "NU", "ontario": "ON", "prince edward island": "PE",
    "quebec": "QC", "québec": "QC", "saskatchewan": "SK", "yukon": "YT",
}  # fmt: skip
# ISO 3166-1 alpha-2; England/Scotland/Wales map to the United Kingdom (GB), as Shopify stores them
COUNTRIES = {
    "united states": "US", "united states of america": "US", "usa": "US", "us": "US", "u.s.": "US",
    "u.s.a.": "US", "america": "US", "canada": "CA", "mexico": "MX", "united kingdom": "GB", "uk": "GB",
    "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "ireland": "IE", "france": "FR", "germany": "DE", "spain": "ES", "portugal": "PT",
    "italy": "IT", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "belgium": "BE",
    "luxembourg": "LU", "switzerland": "CH", "austria": "AT", "denmark": "DK", "sweden": "SE",
    "norway": "NO", "finland": "FI", "iceland": "IS", "poland": "PL", "czechia": "CZ",
    "czech republic": "CZ", "greece": "GR", "australia": "AU", "new zealand": "NZ", "japan": "JP",
    "south korea": "KR", "korea": "KR", "china": "CN", "india": "IN", "singapore": "SG",
    "brazil": "BR", "argentina": "AR", "chile": "CL", "colombia": "CO", "south africa": "ZA",
    "israel": "IL", "turkey": "TR", "united arab emirates": "AE", "uae": "AE",
}  # fmt: skip
PROVINCE_COUNTRY = {**{c: "US" for c in US_STATES.values()}, **{c: "CA" for c in CA_PROVINCES.values()}}
CITY_ALIASES = {"new york city": "New York", "nyc": "New York", "la": "Los Angeles", "sf": "San Francisco"}
_PLACE_NAMES = {
    **{("province_code", code): name.title() for name, code in {**US_STATES, **CA_PROVINCES}.items()},
    **{("country_code", code): name.title() for name, code in reversed(list(COUNTRIES.items()))},
}
