"""Embedded word lists the generator draws from: names, streets, cities, languages, payers.

Small on purpose (no Faker): enough variety for ~400 people, and stable, so the same seed
gives the same people on every machine. Nicknames follow common US usage; the gateway's
matcher keeps its own list (``gateway.services.nicknames``), which these stay within.
"""

from __future__ import annotations

from dataclasses import dataclass

# Legal given name -> nicknames people register under or are called by.
MALE_GIVEN: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Richard": ("Rick", "Rich"),
    "James": ("Jim", "Jimmy"),
    "John": ("Jack", "Johnny"),
    "Joseph": ("Joe", "Joey"),
    "Michael": ("Mike",),
    "Thomas": ("Tom", "Tommy"),
    "Charles": ("Charlie", "Chuck"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Anthony": ("Tony",),
    "Andrew": ("Andy", "Drew"),
    "Edward": ("Ed", "Ted", "Eddie"),
    "Steven": ("Steve",),
    "Benjamin": ("Ben",),
    "Samuel": ("Sam",),
    "Alexander": ("Alex",),
    "Nicholas": ("Nick",),
    "Timothy": ("Tim",),
    "Gregory": ("Greg",),
    "Patrick": ("Pat",),
    "Peter": ("Pete",),
    "Raymond": ("Ray",),
    "Kenneth": ("Ken", "Kenny"),
    "Lawrence": ("Larry",),
    "Francisco": ("Paco",),
    "David": (),
    "Luis": (),
    "Carlos": (),
    "Minh": (),
    "Wei": (),
    "Mohammed": (),
    "Kevin": (),
    "Brian": (),
    "Jason": (),
    "Juan": (),
    "Miguel": (),
    "Omar": (),
    "Ethan": (),
    "Noah": (),
    "Darnell": (),
    "Rajesh": (),
}

FEMALE_GIVEN: dict[str, tuple[str, ...]] = {
    "Elizabeth": ("Liz", "Beth", "Betty"),
    "Margaret": ("Maggie", "Peggy"),
    "Katherine": ("Kate", "Kathy", "Katie"),
    "Jennifer": ("Jen", "Jenny"),
    "Patricia": ("Patty", "Trish"),
    "Susan": ("Sue",),
    "Deborah": ("Debbie", "Deb"),
    "Rebecca": ("Becky",),
    "Victoria": ("Vicky", "Tori"),
    "Christina": ("Tina",),
    "Jessica": ("Jess",),
    "Abigail": ("Abby",),
    "Samantha": ("Sam",),
    "Alexandra": ("Alex", "Sandy"),
    "Barbara": ("Barb",),
    "Dorothy": ("Dottie",),
    "Kimberly": ("Kim",),
    "Pamela": ("Pam",),
    "Cynthia": ("Cindy",),
    "Theresa": ("Terry", "Tess"),
    "Judith": ("Judy",),
    "Virginia": ("Ginny",),
    "Melissa": ("Missy",),
    "Amanda": ("Mandy",),
    "Sarah": ("Sally",),
    "Maria": (),
    "Linh": (),
    "Mei": (),
    "Fatima": (),
    "Guadalupe": (),
    "Rosa": (),
    "Olivia": (),
    "Emma": (),
    "Sophia": (),
    "Grace": (),
    "Priya": (),
    "Lucia": (),
    "Keisha": (),
    "Aaliyah": (),
    "Ngozi": (),
}

MALE_MIDDLE = (
    "James",
    "Lee",
    "Michael",
    "Allen",
    "Joseph",
    "Ray",
    "Edward",
    "Thomas",
    "Antonio",
    "Wayne",
    "Scott",
    "Dean",
    "Xavier",
    "Duc",
)
FEMALE_MIDDLE = (
    "Marie",
    "Ann",
    "Lynn",
    "Elizabeth",
    "Rose",
    "Jean",
    "Grace",
    "Louise",
    "Mae",
    "Isabel",
    "Nicole",
    "Renee",
    "Thi",
    "Carmen",
)

FAMILY = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Tran",
    "Pham",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Patel",
    "Shah",
    "Khan",
    "O'Brien",
    "McDonald",
    "Kowalski",
    "Nowak",
    "Schmidt",
    "Rossi",
    "Haddad",
    "Okafor",
    "Mensah",
    "Larsen",
    "Fitzgerald",
    "Sullivan",
    "Murphy",
    "Gallagher",
    "Washington",
    "Brooks",
    "Bennett",
    "Henderson",
    "Coleman",
    "Jenkins",
    "Powell",
    "Hughes",
    "Foster",
    "Bryant",
    "Russell",
    "Diaz",
    "Hayes",
    "Del Rosario",
    "Garcia-Lopez",
    "Van Dyke",
    "St. Pierre",
    "Abernathy",
    "Castellanos",
    "Weinberg",
    "Yamamoto",
    "Ivanova",
)

STREET_NAMES = (
    "Main",
    "Oak",
    "Maple",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Pine",
    "Cedar",
    "Highland",
    "Prospect",
    "Summer",
    "Walnut",
    "Chestnut",
    "Franklin",
    "Jefferson",
    "Lincoln",
    "Madison",
    "Church",
    "Spring",
    "Center",
    "River",
    "Forest",
    "Harvard",
    "Beacon",
    "Central",
    "Grove",
    "Union",
    "Willow",
    "Cherry",
    "Adams",
    "Linden",
    "Myrtle",
    "Sheridan",
    "Halsted",
)
STREET_SUFFIXES = ("St", "Street", "Ave", "Avenue", "Rd", "Road", "Blvd", "Ln", "Dr", "Ct", "Pl")
UNIT_FORMATS = ("Apt {n}", "Apt. {n}", "Unit {n}", "#{n}", "Suite {n}")


@dataclass(frozen=True)
class City:
    name: str
    state: str
    postal_codes: tuple[str, ...]


BOSTON_AREA = (
    City("Boston", "MA", ("02114", "02115", "02118", "02127", "02130")),
    City("Cambridge", "MA", ("02138", "02139", "02140")),
    City("Somerville", "MA", ("02143", "02144", "02145")),
    City("Quincy", "MA", ("02169", "02170", "02171")),
    City("Brookline", "MA", ("02445", "02446")),
    City("Newton", "MA", ("02458", "02459", "02460")),
    City("Medford", "MA", ("02155",)),
    City("Malden", "MA", ("02148",)),
)
CHICAGO_AREA = (
    City("Chicago", "IL", ("60601", "60614", "60618", "60622", "60640", "60647")),
    City("Evanston", "IL", ("60201", "60202")),
    City("Oak Park", "IL", ("60302", "60304")),
    City("Skokie", "IL", ("60076", "60077")),
    City("Cicero", "IL", ("60804",)),
    City("Naperville", "IL", ("60540", "60563")),
)
BOSTON_AREA_CODES = ("617", "857", "781", "508")
CHICAGO_AREA_CODES = ("312", "773", "872", "847", "630", "708")

# BCP-47 code, display, weight.
LANGUAGES = (
    ("en-US", "English (United States)", 70),
    ("es", "Spanish", 14),
    ("vi", "Vietnamese", 3),
    ("zh", "Chinese", 3),
    ("pt-BR", "Portuguese (Brazil)", 2),
    ("ar", "Arabic", 2),
    ("ko", "Korean", 2),
    ("ru", "Russian", 2),
    ("ht", "Haitian Creole", 2),
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class Payer:
    payer_id: str
    name: str
    member_system: str
    plans: tuple[str, ...]
    member_prefix: str


# Fictional payers; the payer ids are what Coverage.payor.identifier carries and what a
# tenant's payer configuration lists.
PAYERS = (
    Payer(
        "71001", "Northwind Health Plan", "urn:oid:2.999.71001.1", ("PPO Gold", "HMO Silver"), "NWH"
    ),
    Payer("71002", "Bluebird Mutual", "urn:oid:2.999.71002.1", ("Choice Plus", "Basic HMO"), "BBM"),
    Payer("71003", "Cardinal Care", "urn:oid:2.999.71003.1", ("Open Access", "EPO Select"), "CC"),
    Payer(
        "71004", "Lakeshore Medicaid", "urn:oid:2.999.71004.1", ("Medicaid Managed Care",), "LSM"
    ),
    Payer(
        "71005", "Heritage Medicare Advantage", "urn:oid:2.999.71005.1", ("MA PPO", "MA HMO"), "HMA"
    ),
)

PRACTITIONER_NAMES = (
    ("Anita", "Raman", "female"),
    ("Gregory", "Holt", "male"),
    ("Sofia", "Marquez", "female"),
    ("Daniel", "Okoye", "male"),
    ("Helen", "Park", "female"),
    ("Marcus", "Feldman", "male"),
    ("Rachel", "Nguyen", "female"),
    ("Samuel", "Brennan", "male"),
    ("Leila", "Haddad", "female"),
    ("Victor", "Alvarez", "male"),
    ("Joanne", "Kowalczyk", "female"),
)
