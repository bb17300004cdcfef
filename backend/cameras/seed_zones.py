"""Police-station zones of Pune used by the embedded defaults and the demo (centre coordinates of
each station's area). Outlines (`boundary`) are drawn by the camera seed from the cameras of each
zone (backend.cameras.seed.zone_boundaries_fill)."""

from __future__ import annotations

PUNE_ZONES: list[dict[str, object]] = [
    {
        "code": "pune-station",
        "name": "Bund Garden (Pune Station)",
        "station_name": "Bund Garden Police Station",
        "centre_lat": 18.5286,
        "centre_lon": 73.8744,
    },
    {
        "code": "shivajinagar",
        "name": "Shivajinagar",
        "station_name": "Shivajinagar Police Station",
        "centre_lat": 18.5308,
        "centre_lon": 73.8475,
    },
    {
        "code": "swargate",
        "name": "Swargate",
        "station_name": "Swargate Police Station",
        "centre_lat": 18.5018,
        "centre_lon": 73.8636,
    },
    {
        "code": "faraskhana",
        "name": "Faraskhana (Kasba, Dagdusheth)",
        "station_name": "Faraskhana Police Station",
        "centre_lat": 18.5196,
        "centre_lon": 73.8553,
    },
    {
        "code": "vishrambaug",
        "name": "Vishrambaug (Laxmi Road, Tulshibaug)",
        "station_name": "Vishrambaug Police Station",
        "centre_lat": 18.5141,
        "centre_lon": 73.8521,
    },
    {
        "code": "deccan",
        "name": "Deccan Gymkhana (FC Road)",
        "station_name": "Deccan Police Station",
        "centre_lat": 18.5167,
        "centre_lon": 73.8414,
    },
    {
        "code": "chatushrungi",
        "name": "Chatushrungi",
        "station_name": "Chatushrungi Police Station",
        "centre_lat": 18.5397,
        "centre_lon": 73.8296,
    },
    {
        "code": "lashkar",
        "name": "Lashkar (MG Road, Camp)",
        "station_name": "Lashkar Police Station",
        "centre_lat": 18.5158,
        "centre_lon": 73.8788,
    },
    {
        "code": "airport",
        "name": "Vimantal (Airport)",
        "station_name": "Vimantal Police Station",
        "centre_lat": 18.5793,
        "centre_lon": 73.9089,
    },
    {
        "code": "dattawadi",
        "name": "Dattawadi (Parvati)",
        "station_name": "Dattawadi Police Station",
        "centre_lat": 18.4966,
        "centre_lon": 73.8477,
    },
    # Outer stations, for the places of backend.cameras.places beyond the old city.
    {
        "code": "kothrud",
        "name": "Kothrud",
        "station_name": "Kothrud Police Station",
        "centre_lat": 18.5074,
        "centre_lon": 73.8077,
    },
    {
        "code": "hadapsar",
        "name": "Hadapsar",
        "station_name": "Hadapsar Police Station",
        "centre_lat": 18.5089,
        "centre_lon": 73.9259,
    },
    {
        "code": "bharati-vidyapeeth",
        "name": "Bharati Vidyapeeth (Katraj)",
        "station_name": "Bharati Vidyapeeth Police Station",
        "centre_lat": 18.4580,
        "centre_lon": 73.8590,
    },
    {
        "code": "chandannagar",
        "name": "Chandannagar (Kharadi)",
        "station_name": "Chandannagar Police Station",
        "centre_lat": 18.5610,
        "centre_lon": 73.9330,
    },
    {
        "code": "hinjewadi",
        "name": "Hinjewadi (IT Park)",
        "station_name": "Hinjewadi Police Station (Pimpri-Chinchwad)",
        "centre_lat": 18.5913,
        "centre_lon": 73.7389,
    },
    {
        "code": "pimpri",
        "name": "Pimpri",
        "station_name": "Pimpri Police Station (Pimpri-Chinchwad)",
        "centre_lat": 18.6298,
        "centre_lon": 73.7997,
    },
]
