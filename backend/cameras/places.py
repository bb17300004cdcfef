"""Key places of Pune where the seeded cameras stand: transit hubs, temples and festival grounds,
markets and major junctions.

Coordinates are the well-known positions of each place (WGS84, to about 100 m: a place is an area,
and the seed scatters its cameras over `radius_m` around this point). `zone` is the code of the
police station whose jurisdiction holds the place (backend.cameras.seed_zones.PUNE_ZONES).
`weight` says how many cameras the place gets relative to the others: busy hubs get more.
`slug` names the place's camera group (operations may name a group) and prefixes camera codes.
Hinjewadi and Pimpri lie in the Pimpri-Chinchwad commissionerate; they are in the registry as
the metropolitan deployment's outer stations."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PlaceCategory(StrEnum):
    TRANSIT = "transit"
    TEMPLE = "temple"
    FESTIVAL = "festival"
    MARKET = "market"
    JUNCTION = "junction"


@dataclass(frozen=True)
class Place:
    slug: str
    name: str
    category: PlaceCategory
    lat: float
    lon: float
    zone: str
    weight: int
    radius_m: int = 300


T, P, F, M, J = (
    PlaceCategory.TRANSIT,
    PlaceCategory.TEMPLE,
    PlaceCategory.FESTIVAL,
    PlaceCategory.MARKET,
    PlaceCategory.JUNCTION,
)

PUNE_PLACES: tuple[Place, ...] = (
    # --- transit hubs -------------------------------------------------------------------------
    Place("railway-station", "Pune Railway Station", T, 18.5289, 73.8744, "pune-station", 12, 400),
    Place("shivajinagar-station", "Shivajinagar Railway Station", T, 18.5314, 73.8524, "shivajinagar", 5, 250),
    Place("shivajinagar-bus-stand", "Shivajinagar ST Bus Stand", T, 18.5301, 73.8506, "shivajinagar", 5, 250),
    Place("civil-court-metro", "Civil Court Metro Interchange", T, 18.5283, 73.8556, "shivajinagar", 4, 200),
    Place("swargate-bus-stand", "Swargate Bus Stand", T, 18.5018, 73.8586, "swargate", 10, 350),
    Place("pune-airport", "Pune Airport (Lohegaon)", T, 18.5821, 73.9197, "airport", 9, 500),
    Place("hadapsar", "Hadapsar (Solapur Road)", T, 18.5089, 73.9259, "hadapsar", 6, 450),
    Place("katraj", "Katraj Bus Depot", T, 18.4536, 73.8617, "bharati-vidyapeeth", 5, 400),
    # --- temples and festival grounds ----------------------------------------------------------
    Place("dagdusheth-ganpati", "Dagdusheth Halwai Ganpati", P, 18.5164, 73.8561, "faraskhana", 10, 220),
    Place("kasba-ganpati", "Kasba Ganpati", P, 18.5194, 73.8580, "faraskhana", 5, 180),
    Place("shaniwar-wada", "Shaniwar Wada", F, 18.5195, 73.8553, "faraskhana", 6, 250),
    Place("chaturshringi", "Chaturshringi Temple", P, 18.5395, 73.8290, "chatushrungi", 6, 300),
    Place("parvati", "Parvati Hill Temple", P, 18.4966, 73.8466, "dattawadi", 5, 300),
    Place("sarasbaug", "Sarasbaug Ganpati", P, 18.5003, 73.8522, "swargate", 5, 250),
    Place("omkareshwar", "Omkareshwar Temple", P, 18.5215, 73.8500, "vishrambaug", 3, 180),
    Place("pataleshwar", "Pataleshwar Cave Temple", P, 18.5266, 73.8493, "shivajinagar", 2, 150),
    Place("sp-college-ground", "SP College Ground", F, 18.5063, 73.8497, "vishrambaug", 3, 200),
    Place("nehru-stadium", "Nehru Stadium", F, 18.5060, 73.8560, "swargate", 3, 200),
    Place("balewadi-stadium", "Balewadi Sports Complex", F, 18.5780, 73.7600, "chatushrungi", 3, 350),
    # --- markets -------------------------------------------------------------------------------
    Place("laxmi-road", "Laxmi Road", M, 18.5155, 73.8530, "vishrambaug", 8, 400),
    Place("tulshibaug", "Tulshibaug", M, 18.5141, 73.8554, "vishrambaug", 5, 180),
    Place("phule-mandai", "Mahatma Phule Mandai", M, 18.5127, 73.8561, "faraskhana", 5, 200),
    Place("raviwar-peth", "Raviwar Peth (Bohri Ali)", M, 18.5137, 73.8603, "faraskhana", 3, 200),
    Place("fc-road", "FC Road", M, 18.5236, 73.8412, "deccan", 6, 450),
    Place("jm-road", "JM Road", M, 18.5200, 73.8475, "deccan", 4, 400),
    Place("mg-road-camp", "MG Road (Camp)", M, 18.5140, 73.8790, "lashkar", 6, 350),
    Place("market-yard", "Market Yard (Gultekdi)", M, 18.4870, 73.8680, "swargate", 4, 400),
    Place("koregaon-park", "Koregaon Park North Main Road", M, 18.5362, 73.8940, "pune-station", 3, 400),
    Place("viman-nagar-mall", "Phoenix Marketcity (Viman Nagar)", M, 18.5622, 73.9166, "airport", 3, 250),
    # --- major junctions -----------------------------------------------------------------------
    Place("university-circle", "University Circle", J, 18.5370, 73.8325, "chatushrungi", 5, 350),
    Place("deccan-gymkhana", "Deccan Gymkhana", J, 18.5167, 73.8414, "deccan", 5, 300),
    Place("nal-stop", "Nal Stop", J, 18.5075, 73.8295, "deccan", 4, 250),
    Place("swargate-chowk", "Swargate Chowk", J, 18.5004, 73.8578, "swargate", 4, 200),
    Place("kothrud-depot", "Kothrud Depot Chowk", J, 18.5074, 73.8077, "kothrud", 5, 450),
    Place("baner", "Baner Road", J, 18.5590, 73.7868, "chatushrungi", 4, 450),
    Place("aundh", "Aundh (Parihar Chowk)", J, 18.5580, 73.8075, "chatushrungi", 3, 350),
    Place("viman-nagar", "Viman Nagar Chowk", J, 18.5679, 73.9143, "airport", 4, 350),
    Place("kharadi-bypass", "Kharadi Bypass", J, 18.5515, 73.9348, "chandannagar", 4, 450),
    Place("hinjewadi", "Hinjewadi Phase 1", J, 18.5913, 73.7389, "hinjewadi", 4, 500),
    Place("pimpri-chowk", "Pimpri Chowk", J, 18.6279, 73.8009, "pimpri", 3, 400),
)


def place_by_slug(slug: str) -> Place | None:
    return next((place for place in PUNE_PLACES if place.slug == slug), None)
