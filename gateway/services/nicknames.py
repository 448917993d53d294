"""Common US English given-name variants (nickname ↔ legal name), for matching only.

Each group lists names that front desks routinely see for one person. It is a
matching aid, never used to rewrite a record.
"""

from __future__ import annotations

_GROUPS: tuple[tuple[str, ...], ...] = (
    ("william", "bill", "billy", "will", "willy", "liam"),
    ("robert", "bob", "bobby", "rob", "robbie", "bert"),
    ("richard", "rick", "ricky", "dick", "rich"),
    ("james", "jim", "jimmy", "jamie"),
    ("john", "johnny", "jack", "jon"),
    ("joseph", "joe", "joey"),
    ("michael", "mike", "mikey", "mick"),
    ("thomas", "tom", "tommy"),
    ("charles", "charlie", "chuck", "chas"),
    ("christopher", "chris", "topher"),
    ("daniel", "dan", "danny"),
    ("matthew", "matt", "matty"),
    ("anthony", "tony"),
    ("andrew", "andy", "drew"),
    ("edward", "ed", "eddie", "ted", "ned"),
    ("steven", "stephen", "steve"),
    ("benjamin", "ben", "benny"),
    ("samuel", "sam", "sammy"),
    ("alexander", "alex", "al", "sasha"),
    ("nicholas", "nick", "nicky"),
    ("jonathan", "jon", "johnny"),
    ("timothy", "tim", "timmy"),
    ("gregory", "greg"),
    ("patrick", "pat", "paddy"),
    ("peter", "pete"),
    ("raymond", "ray"),
    ("ronald", "ron", "ronnie"),
    ("donald", "don", "donny"),
    ("kenneth", "ken", "kenny"),
    ("lawrence", "larry"),
    ("gerald", "jerry"),
    ("jose", "pepe"),
    ("francisco", "paco", "pancho"),
    ("elizabeth", "liz", "beth", "betty", "eliza", "lizzie", "betsy"),
    ("margaret", "maggie", "meg", "peggy", "marge"),
    ("katherine", "catherine", "kathy", "kate", "katie", "cathy"),
    ("jennifer", "jen", "jenny"),
    ("patricia", "pat", "patty", "trish", "tricia"),
    ("susan", "sue", "susie"),
    ("deborah", "debra", "debbie", "deb"),
    ("rebecca", "becky", "becca"),
    ("victoria", "vicky", "tori"),
    ("christina", "christine", "chris", "tina"),
    ("jessica", "jess", "jessie"),
    ("abigail", "abby"),
    ("samantha", "sam", "sammy"),
    ("alexandra", "alex", "sandra", "sandy"),
    ("barbara", "barb", "babs"),
    ("dorothy", "dot", "dottie"),
    ("kimberly", "kim"),
    ("pamela", "pam"),
    ("cynthia", "cindy"),
    ("theresa", "teresa", "terry", "tess"),
    ("judith", "judy"),
    ("virginia", "ginny"),
    ("melissa", "missy", "mel"),
    ("amanda", "mandy"),
    ("natalie", "nat"),
    ("nancy", "nan"),
    ("mary", "molly", "polly"),
    ("sarah", "sara", "sally"),
    ("ann", "anne", "anna", "annie"),
)

_INDEX: dict[str, frozenset[str]] = {}
for _group in _GROUPS:
    for _name in _group:
        _INDEX[_name] = _INDEX.get(_name, frozenset()) | frozenset(_group)


def variants(given: str) -> frozenset[str]:
    """The names that may stand for ``given`` (normalised, lower case), itself included."""
    return _INDEX.get(given, frozenset((given,)))


def root(given: str) -> str:
    """One name standing for every variant of ``given`` (the first group's legal name), so
    a nickname and the legal name compare equal; ``given`` itself when it has no group."""
    group = _ROOT.get(given)
    return group if group is not None else given


_ROOT: dict[str, str] = {}
for _group in _GROUPS:
    for _name in _group:
        _ROOT.setdefault(_name, _group[0])
