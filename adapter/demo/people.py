"""Fake practice, PCN and ICB staff: invented names with NHSmail-style addresses."""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

FIRST_NAMES = (
    "Aisha", "Alex", "Amelia", "Amir", "Andrew", "Anita", "Ben", "Bethan", "Callum", "Caroline", "Chloe",
    "Chris", "Claire", "Daniel", "David", "Deborah", "Declan", "Eleanor", "Emma", "Farah", "Fiona", "Gareth",
    "Grace", "Hannah", "Harpreet", "Helen", "Imran", "Isla", "Jack", "James", "Jane", "Jasmine", "Jo",
    "Joanne", "Karen", "Kate", "Kwame", "Laura", "Leah", "Lisa", "Louise", "Lucy", "Mark", "Mei", "Michelle",
    "Mohammed", "Naomi", "Neil", "Nicola", "Olivia", "Oluwaseun", "Paul", "Priya", "Rachel", "Rebecca",
    "Richard", "Rob", "Ruth", "Sam", "Sarah", "Simon", "Sophie", "Stuart", "Tom", "Tracey", "Yasmin", "Zoe",
)
SURNAMES = (
    "Adams", "Ahmed", "Ali", "Allen", "Atkinson", "Bailey", "Baker", "Begum", "Bell", "Bennett", "Brown",
    "Campbell", "Carter", "Chapman", "Clarke", "Collins", "Cooper", "Davies", "Dixon", "Edwards", "Evans",
    "Fletcher", "Foster", "Gill", "Graham", "Green", "Hall", "Harris", "Hughes", "Hussain", "Jackson",
    "James", "Johnson", "Jones", "Kaur", "Kelly", "Khan", "King", "Lee", "Lewis", "Martin", "Mason",
    "Mitchell", "Moore", "Morgan", "Murphy", "Nowak", "Okafor", "Owen", "Parker", "Patel", "Phillips",
    "Price", "Rahman", "Roberts", "Robinson", "Shah", "Singh", "Smith", "Stewart", "Taylor", "Thomas",
    "Thompson", "Turner", "Walker", "Ward", "Watson", "White", "Williams", "Wilson", "Wood", "Wright", "Young",
)
PRACTICE_ROLES = ("Deputy Practice Manager", "GP Partner", "Digital Lead", "Operations Manager",
                  "Reception Manager", "Advanced Nurse Practitioner", "Salaried GP")
PCN_ROLES = ("PCN Digital and Transformation Lead", "PCN Clinical Director", "PCN Manager")
ICB_ROLES = ("Digital Primary Care Manager", "Primary Care Transformation Lead", "Head of Digital Primary Care")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    email: str

    def author(self) -> dict:
        return {"name": self.name, "role": self.role, "email": self.email}


def person(rng: random.Random, role: str) -> Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
    local = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower())
    # NHSmail adds a number when the plain address is taken, as it often is.
    suffix = str(rng.randint(1, 12)) if rng.random() < 0.3 else ""
    return Person(f"{first} {last}", role, f"{local}{suffix}@nhs.net")


def practice_staff(rng: random.Random) -> list[Person]:
    """The practice manager first, then one to three colleagues who use the Hub."""
    roles = ["Practice Manager"] + rng.sample(PRACTICE_ROLES, rng.randint(1, 3))
    return [person(rng, role) for role in roles]
