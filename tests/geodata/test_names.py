import pytest

from geodata.names import NameMatcher, london_name_matcher, normalise_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Royal Borough of Kingston upon Thames", "kingston upon thames"),
        ("RB Kingston upon Thames", "kingston upon thames"),
        ("LB Hammersmith and Fulham", "hammersmith and fulham"),
        ("Hammersmith & Fulham", "hammersmith and fulham"),
        ("London Borough of Tower Hamlets", "tower hamlets"),
        ("City and County of the City of London", "city of london"),
        ("Lambeth Borough Council", "lambeth"),
        ("Lambeth Council", "lambeth"),
        ("Central West BCU", "central west"),
        ("The Royal Borough of Greenwich", "greenwich"),
        ("St Peter's", "st peters"),
        ("St. Peter’s", "st peters"),
        ("Saint Peter's", "st peters"),
        ("  Kensington   &   Chelsea ", "kensington and chelsea"),
        ("Hampstead-Heath", "hampstead heath"),
        ("The", "the"),  # a prefix alone is kept
    ],
)
def test_normalise_name(text, expected):
    assert normalise_name(text) == expected


def test_synthetic_scores():
    matcher = NameMatcher(
        [
            ("B1", "borough", "Kingston upon Thames"),
            ("W1", "ward", "Old Kingston"),
            ("W2", "ward", "Ringwood"),
        ]
    )
    assert matcher.match("Kingston upon Thames") == [("B1", 100)]
    assert matcher.match("kingston") == [("B1", 90), ("W1", 70)]
    assert matcher.match("kingst") == [("B1", 80), ("W1", 70)]
    assert matcher.match("ingst") == [("B1", 50), ("W1", 50)]
    assert matcher.match("b1") == [("B1", 100)]
    assert matcher.match("") == []
    assert matcher.resolve("kingston") == "B1"
    assert matcher.resolve("ingst") is None
    assert matcher.resolve("kingst") is None  # a bare prefix is a guess
    assert matcher.resolve("kingston", type="ward") is None  # so is a later word


def test_a_shared_name_is_named_twice_and_a_shared_start_not_at_all():
    matcher = NameMatcher(
        [("W1", "ward", "Kilburn"), ("W2", "ward", "Kilburn"), ("W3", "ward", "North End")]
    )
    assert matcher.named("kilburn") == (100, ["W1", "W2"])
    assert matcher.resolve("kilburn") is None
    assert matcher.named("kilburn", among=["W2", "W3"]) == (100, ["W2"])
    assert matcher.named("north") == (90, ["W3"])
    matcher = NameMatcher([("A", "ward", "North End"), ("B", "ward", "North Park")])
    assert matcher.named("north") == (0, [])


def test_resolve_is_none_on_a_tie():
    matcher = NameMatcher([("A", "ward", "North End"), ("B", "ward", "North Park")])
    assert matcher.resolve("north") is None


def test_add_alias():
    matcher = NameMatcher([("A", "borough", "Somewhere")])
    matcher.add_alias("A", "Elsewhere")
    assert matcher.resolve("elsewhere") == "A"
    with pytest.raises(KeyError):
        matcher.add_alias("missing", "x")


@pytest.fixture(scope="module")
def matcher(bundle):
    return london_name_matcher((a.code, a.type, a.name) for a in bundle.areas)


@pytest.mark.parametrize(
    ("query", "area_type", "code"),
    [
        ("kingston", None, "E09000021"),
        ("Royal Borough of Kingston upon Thames", None, "E09000021"),
        ("RB Kingston upon Thames", None, "E09000021"),
        ("Kensington & Chelsea", None, "E09000020"),
        ("Richmond", "borough", "E09000027"),
        ("LB Hammersmith and Fulham", None, "E09000013"),
        ("Hammersmith & Fulham", None, "E09000013"),
        ("City of London", None, "E09000001"),
        ("City", None, "E09000001"),
        ("Westminster", None, "E09000033"),
        ("City of Westminster", None, "E09000033"),
        # the councils' own names (the read probe of 5 December: these two were 404s)
        ("Westminster City Council", None, "E09000033"),
        ("City of London Corporation", None, "E09000001"),
        ("The City of London Corporation", None, "E09000001"),
        ("Newham Council", None, "E09000025"),
        ("London Borough of Barking and Dagenham Council", None, "E09000002"),
        ("e09000030", None, "E09000030"),
        ("E05013991", None, "E05013991"),
        ("Central West", None, "bcu-central-west"),
        ("Central West BCU", None, "bcu-central-west"),
        ("central west bcu", "bcu", "bcu-central-west"),
        ("London", "region", "E12000007"),
    ],
)
def test_resolve_real_names(matcher, query, area_type, code):
    assert matcher.resolve(query, type=area_type) == code


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Kingston", "E09000021"),
        ("Richmond", "E09000027"),
        ("Barking", "E09000002"),
        ("Hammersmith", "E09000013"),
        ("Kensington", "E09000020"),  # the leading words of one name
        ("Waltham", "E09000031"),
    ],
)
def test_a_short_name_resolves_to_the_area_it_begins(matcher, query, code):
    assert matcher.resolve(query) == code


@pytest.mark.parametrize(
    "query",
    [
        "Central",  # begins four BCUs' names and a ward's
        "Nowhere at all",
        "",
        "   ",
        "Green",  # Greenwich, and Green Street East and West: begins several names
        "Hill",  # Hillingdon: only the start of a word
        "Walthamstow",  # Upper Walthamstow: a later word
        "Gree",
    ],
)
def test_resolve_real_names_none(matcher, query):
    assert matcher.resolve(query) is None


@pytest.mark.parametrize(
    ("query", "code"),
    [("Croydon Central", "E09000008"), ("Enfield Town", "E09000010"), ("Green", "E09000011")],
)
def test_near_misses_are_suggested(matcher, query, code):
    assert code in matcher.suggest(query)


def test_suggest_ranks_matches_then_close_spellings():
    matcher = NameMatcher(
        [("B1", "borough", "Lambeth"), ("B2", "borough", "Lewisham"), ("B3", "borough", "Croydon")]
    )
    assert matcher.suggest("lam") == ["B1"]  # what match ranks comes first
    assert matcher.suggest("Lambth") == ["B1"]  # a typo: the closest spelling
    assert matcher.suggest("Croydn") == ["B3"]
    assert matcher.suggest("Lambth", type="ward") == []
    assert matcher.suggest("qqqq") == []
    assert matcher.suggest("") == []
