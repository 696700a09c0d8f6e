"""Funding summaries and funding against need: arguments and answers (documentation; the
routes serialise the use cases' dicts directly)."""

from __future__ import annotations

import marshmallow as ma

from directory.usecases.funding.need import NEED_LEVELS
from directory.usecases.funding.summary import APPORTION, SUMMARY_BY
from directory.usecases.funding.timeliness import TIMELINESS_BY
from directory.usecases.funding.years import SPREADS
from directory.web.api import Schema
from directory.web.resources.common import (
    AreaRefSchema,
    ProgrammeId,
    ProgrammeRefSchema,
    RefNameSchema,
    include_other_programmes_field,
    live_on_field,
)

#: the spellings of a financial year parse_financial_year (directory/ingest/values.py)
#: reads: an optional FY / F/Y / "financial year" prefix, then two years of 2 or 4 digits
#: joined by /, - or – (it also requires them to be consecutive, which a pattern cannot say)
FINANCIAL_YEAR_PATTERN = (
    r"^\s*(?:(?:[Ff][Yy]|[Ff]/[Yy]|[Ff][Ii][Nn][Aa][Nn][Cc][Ii][Aa][Ll] [Yy][Ee][Aa][Rr])"
    r"\s*:?\s*)?(?:\d{4}|\d{2})\s*[/\-\u2013]\s*(?:\d{4}|\d{2})\s*$"
)

_PROGRAMME = ProgrammeId(
    validate=ma.validate.Length(min=1, max=80),
    metadata={
        "description": "Only awards of this programme id (lcpf-direct, vru, snb …; see /programmes)"
    },
)
_FINANCIAL_YEAR = ma.fields.String(
    validate=ma.validate.Length(min=1, max=20),
    metadata={
        "description": "Only awards for this UK financial year (1 April to 31 March): 2021/22, "
        "or 2021-22, 2021/2022, FY21/22, FY 2021/22, 21/22 (any case, optional spaces). The "
        "two years must be consecutive and the first between 1900 and 2099; anything else is "
        "a 422 invalid-input naming financial_year. An award's year is the one its source "
        "gives it, the first of a span (MOPAC-DEC-026, 2017/18-2020/21, is 2017/18: its whole "
        "amount there, not divided between the years, unless spread=planned_dates), else the "
        "year of its award date or start. For the awards funding a given day, whatever year "
        "they were made for, ask live_on.",
        "pattern": FINANCIAL_YEAR_PATTERN,
        "example": "2021/22",
    },
)
_APPORTION = ma.fields.String(
    load_default="none",
    validate=ma.validate.OneOf(APPORTION),
    metadata={
        "description": "none (default): London-wide and BCU-wide money stays at its own scope. "
        "population: also give each borough (or BCU) an apportioned_amount that divides "
        "London-wide money by share of London's population and BCU-wide money by share of the "
        "BCU's population (the rule is stated in the answer's apportionment member); with "
        "area a borough, BCU or London, the headline's apportionment likewise, and each "
        "group's apportioned_amount (by=programme, financial_year or organisation)"
    },
)
_SPREAD = ma.fields.String(
    load_default="none",
    validate=ma.validate.OneOf(SPREADS),
    metadata={
        "description": "none (default): an award counts in the financial year it was decided "
        "for, its whole amount there (PCD 79's £72m for 2017/18 to 2020/21 is all in "
        "2017/18). planned_dates: an award with a planned start and end is divided between "
        "the UK financial years its planned period covers, in proportion to its days in "
        "each, in whole pence adding up to the award; financial_year then counts the year's "
        "share (an award counts in each year it has money in) and by=financial_year puts "
        "each share in its year. Awards without both dates stay whole in their decided year "
        "(the answer's spread.not_spread). Every other figure (areas, apportionment, "
        "headline, passed_on) is made from the shares; without financial_year or "
        "by=financial_year nothing changes"
    },
)
_REGRANTS = ma.fields.Boolean(
    load_default=False,
    metadata={
        "description": "Include every regrant (an award paid through another award the "
        "directory holds, e.g. MOPAC → SNB → charity); by default a regrant is left out when "
        "an award it was paid through (its parent, or the parent's parent…) is counted in the "
        "same answer, its money being counted there, and counted when the filters left every "
        "such award out"
    },
)


class FundingSummaryArgsSchema(Schema):
    by = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(SUMMARY_BY),
        metadata={"description": "How to group the awards"},
    )
    programme = _PROGRAMME
    financial_year = _FINANCIAL_YEAR
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code or name (Kingston, Central West BCU, E05013938): awards "
            "whose beneficiary areas are the area, above it (London-wide, its BCU) or inside it"
        },
    )
    live_on = live_on_field("Only awards live that day (start ≤ day ≤ end; a missing date is open)")
    apportion = _APPORTION
    spread = _SPREAD
    include_regrants = _REGRANTS
    include_other_programmes = include_other_programmes_field()


class FundingNeedArgsSchema(Schema):
    level = ma.fields.String(
        load_default="borough",
        validate=ma.validate.OneOf(NEED_LEVELS),
        metadata={"description": "borough (33, with the City of London) or bcu (the 12 Met BCUs)"},
    )
    programme = _PROGRAMME
    financial_year = _FINANCIAL_YEAR
    apportion = _APPORTION
    spread = _SPREAD
    include_regrants = _REGRANTS
    include_other_programmes = include_other_programmes_field()


class FundingFiltersSchema(Schema):
    """The filters an answer applied, as it echoes them."""

    programme = ma.fields.String(allow_none=True)
    financial_year = ma.fields.String(
        allow_none=True, metadata={"description": "Normalised: 2021/22"}
    )
    area = ma.fields.Nested(
        AreaRefSchema, allow_none=True, metadata={"description": "The area, resolved"}
    )
    live_on = ma.fields.Date(allow_none=True)
    include_regrants = ma.fields.Boolean()
    include_other_programmes = ma.fields.Boolean()


class PopulationNoteSchema(Schema):
    reference_date = ma.fields.Date(metadata={"description": "The latest estimate's date"})
    source = ma.fields.Raw(
        metadata={
            "description": "The estimates' source, or their sources when several",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "nullable": True,
        }
    )


class CrimePeriodSchema(Schema):
    start = ma.fields.String(metadata={"description": "First month, YYYY-MM"})
    end = ma.fields.String(metadata={"description": "Last month, YYYY-MM"})
    months = ma.fields.Integer()


class AwardLengthsSchema(Schema):
    class Meta:
        ordered = True
        include = {
            "<12": ma.fields.Integer(metadata={"description": "Awards shorter than 12 months"}),
            "12–23": ma.fields.Integer(metadata={"description": "12 to 23 months"}),
            "24–35": ma.fields.Integer(metadata={"description": "24 to 35 months"}),
            "36+": ma.fields.Integer(
                metadata={"description": "36 months or more (the 3-year target)"}
            ),
            "unknown": ma.fields.Integer(
                metadata={"description": "No duration, or no start and end date"}
            ),
        }


class FundingMoneySchema(Schema):
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds"})


class FundingStatsSchema(Schema):
    awards = ma.fields.Integer(
        metadata={
            "description": "Number of awards (an award shared between several groups counts in each)"
        }
    )
    amount = ma.fields.Float(
        metadata={
            "description": "Pounds (a shared award's amount is divided equally between its groups)"
        }
    )
    awards_without_amount = ma.fields.Integer(
        metadata={"description": "Awards whose amount is not recorded"}
    )
    median_months = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "Median award length in months (duration, or worked out from start and end); null if none is known"
        },
    )
    length_distribution = ma.fields.Nested(AwardLengthsSchema)
    share_36_plus = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "Share (0–1) of the awards of known length that run 36 months or more"
        },
    )
    ending_soon = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "Awards (and their money) ending within DIRECTORY_ENDING_SOON_DAYS (default 90) days from today"
        },
    )


class PoliceDistrictMoneySchema(FundingMoneySchema):
    area = ma.fields.Nested(AreaRefSchema)


class LondonWideStatsSchema(FundingStatsSchema):
    police_district = ma.fields.Nested(
        PoliceDistrictMoneySchema,
        metadata={
            "description": "Of these, the awards for the Metropolitan Police District "
            "(E23000001: London but the City of London, the 32 boroughs of the Met's BCUs, "
            "as MOPAC's direct borough funding is): they never reach the City of London, "
            "and apportion=population divides them by the District's population"
        },
    )


class FundingAreaStatsSchema(FundingStatsSchema):
    area = ma.fields.Nested(AreaRefSchema)
    shared_awards = ma.fields.Integer(
        metadata={
            "description": "Of these awards, how many name several areas of this level and were divided equally"
        }
    )
    apportioned_amount = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "With apportion=population only: amount plus the population share of London-wide money (of the Metropolitan Police District's money for an area in it, by its share of the District's population) and, for a borough, of its BCU's BCU-wide money; null if populations are not loaded"
        },
    )
    note = ma.fields.String(
        metadata={"description": "not_in_a_bcu: why the City of London has no BCU"}
    )


class HeadlineMoneySchema(Schema):
    awards = ma.fields.Integer(metadata={"description": "Awards, each counted once"})
    amount = ma.fields.Float(metadata={"description": "Pounds, each award in full"})
    awards_without_amount = ma.fields.Integer(
        metadata={"description": "Awards whose amount is not recorded"}
    )
    apportioned_amount = ma.fields.Float(
        metadata={
            "description": "With apportion=population (when populations are loaded): the "
            "part of this scope's money counted for the area by apportionment.rule"
        }
    )


class HeadlineWiderSchema(HeadlineMoneySchema):
    areas = ma.fields.List(
        ma.fields.Nested(AreaRefSchema),
        metadata={
            "description": "The areas these awards were made for beyond the area: its "
            "borough, BCU, or London or the Metropolitan Police District (E23000001) for a "
            "wide scope; for shared, the other areas the awards name"
        },
    )
    areas_sharing = ma.fields.Integer(
        metadata={
            "description": "How many areas of the area's own level this money is for, the "
            "area included (London-wide for a borough: 33; the Metropolitan Police District's "
            "alone: 32; both London's and the District's: 33, and police_district says how "
            "much of it is the District's, shared by 32)"
        }
    )
    police_district = ma.fields.Nested(
        "HeadlineDistrictSchema",
        metadata={
            "description": "london_wide, when some of its awards are for the Metropolitan "
            "Police District (E23000001): those awards, and how many areas of this level "
            "share them (a borough: 32, the City of London being outside the District)"
        },
    )
    shared_with = ma.fields.List(
        ma.fields.Nested(AreaRefSchema),
        metadata={
            "description": "A borough's or BCU's shared and bcu_wide scopes: the other "
            "boroughs (BCUs) this money is for"
        },
    )
    equal_share = ma.fields.Float(
        metadata={
            "description": "shared, for a borough or BCU: the area's part when each award is "
            "divided equally between the areas of its level it names (as "
            "/funding/summary?by=borough or by=bcu counts it)"
        }
    )


class HeadlineDistrictSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds, each award in full"})
    awards_without_amount = ma.fields.Integer()
    areas_sharing = ma.fields.Integer(
        metadata={
            "description": "How many areas of the area's own level the District's "
            "awards are for, the area included"
        }
    )


class HeadlinePopulationSchema(Schema):
    reference_date = ma.fields.Date(metadata={"description": "The latest estimate's date"})
    sources = ma.fields.List(ma.fields.String())


class HeadlineApportionmentSchema(Schema):
    method = ma.fields.String(metadata={"description": "none | population"})
    available = ma.fields.Boolean(
        metadata={
            "description": "Whether amount could be worked out (population: populations "
            "loaded, and the area is a borough, BCU or London)"
        }
    )
    amount = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "Pounds: own + the apportioned parts of the wider scopes (null "
            "unless apportion=population and available)"
        },
    )
    rule = ma.fields.String(metadata={"description": "What is added, in words"})
    population = ma.fields.Nested(
        HeadlinePopulationSchema,
        allow_none=True,
        metadata={"description": "The population estimates used (null if none are loaded)"},
    )


class FundingHeadlineSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    own = ma.fields.Nested(
        HeadlineMoneySchema,
        metadata={
            "description": "The area's own awards: every beneficiary area they name is the "
            "area or inside it (a borough and its wards). The figure to compare areas by"
        },
    )
    shared = ma.fields.Nested(
        HeadlineWiderSchema,
        metadata={
            "description": "Awards naming the area (or an area inside it) and areas outside "
            "it, none above it (several boroughs), in full; absent for London"
        },
    )
    borough_wide = ma.fields.Nested(
        HeadlineWiderSchema,
        metadata={"description": "A ward: awards for its whole borough, in full"},
    )
    bcu_wide = ma.fields.Nested(
        HeadlineWiderSchema,
        metadata={
            "description": "A borough or ward in a Met BCU: awards for the whole BCU, in full "
            "(absent for the City of London, in no BCU)"
        },
    )
    london_wide = ma.fields.Nested(
        HeadlineWiderSchema,
        metadata={
            "description": "Awards for all of London, and (for an area in it) for the "
            "Metropolitan Police District, London but the City of London, in full; absent for "
            "London. The City of London and its wards are reached by London's only"
        },
    )
    reaching = ma.fields.Nested(
        HeadlineMoneySchema,
        metadata={
            "description": "Every award reaching the area, once, in full: own + shared + the "
            "wide scopes (the answer's totals)"
        },
    )
    apportionment = ma.fields.Nested(HeadlineApportionmentSchema)
    rule = ma.fields.String(metadata={"description": "What each scope counts, in words"})
    note = ma.fields.String(metadata={"description": "The City of London: why it has no BCU"})


class GroupScopesSchema(Schema):
    own = ma.fields.Nested(FundingMoneySchema)
    shared = ma.fields.Nested(FundingMoneySchema)
    borough_wide = ma.fields.Nested(FundingMoneySchema)
    bcu_wide = ma.fields.Nested(FundingMoneySchema)
    london_wide = ma.fields.Nested(FundingMoneySchema)


class FundingGroupSchema(FundingStatsSchema):
    programme = ma.fields.Nested(
        ProgrammeRefSchema,
        allow_none=True,
        metadata={"description": "by=programme: {id, name}, null for awards with no programme"},
    )
    financial_year = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "by=financial_year: 2021/22 (an award over several years in "
            "its first, or with spread=planned_dates in each year it has money in), null when "
            "not recorded"
        },
    )
    organisation = ma.fields.Nested(
        RefNameSchema, metadata={"description": "by=organisation: the recipient {ref, name}"}
    )
    scopes = ma.fields.Nested(
        GroupScopesSchema,
        metadata={
            "description": "With area: the group's awards and money by scope at the area, as "
            "in headline (own, shared, borough_wide, bcu_wide, london_wide, each in full)"
        },
    )
    passed_on = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "by=organisation: of this answer's awards (those it counts or "
            "leaves out as regrants), those paid through one of the organisation's awards "
            "counted here (their parent, following Paid through) to another organisation, "
            "with their money. amount credits the organisation with the whole of each award "
            "it received, what it passed on included; amount − passed_on.amount is what the "
            "directory does not show it passing on"
        },
    )
    for_onward_distribution = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "by=organisation: the organisation's awards counted in amount "
            "that were made to it for onward distribution as grants (those carrying a "
            "360Giving Regrant Type, e.g. FRG010), with their money, whether or not the "
            "directory holds the grants it made from them (passed_on counts only those it "
            "holds)"
        },
    )
    apportioned_amount = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "With area and apportion=population: the part of the group's "
            "money counted for the area by headline.apportionment.rule (its own awards in "
            "full, the wider ones by population share). Each award is in one group, and the "
            "groups' apportioned_amount add up exactly to headline.apportionment.amount (each "
            "within a penny of its own unrounded sum); null if populations are not loaded"
        },
    )


class FundingApportionmentSchema(Schema):
    method = ma.fields.String(metadata={"description": "none | population"})
    available = ma.fields.Boolean(
        metadata={
            "description": "population: false if populations are not loaded for every borough"
        }
    )
    rule = ma.fields.String(metadata={"description": "The rule applied, in words"})
    population = ma.fields.Nested(
        PopulationNoteSchema,
        allow_none=True,
        metadata={"description": "The population estimates used: reference_date, source"},
    )
    london_population = ma.fields.Integer()


class FundingSpreadSchema(Schema):
    method = ma.fields.String(metadata={"description": "none | planned_dates (spread=)"})
    rule = ma.fields.String(metadata={"description": "The rule applied, in words"})
    not_spread = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "planned_dates only: of the awards counted (totals), those left "
            "whole in the financial year they were decided for, having no planned start or "
            "end (or an end before the start), with their money"
        },
    )


class FundingProgrammesSchema(Schema):
    counted = ma.fields.String(
        metadata={
            "description": "community_safety (the default), all (include_other_programmes=true) "
            "or named (programme= names one, counted whatever its classification)"
        }
    )
    rule = ma.fields.String(metadata={"description": "The rule applied, in words"})
    other_programmes = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "community_safety only: the awards of other programmes the same "
            "filters would have counted (each award once, in full)"
        },
    )


class FundingSummarySchema(Schema):
    by = ma.fields.String()
    filters = ma.fields.Nested(
        FundingFiltersSchema,
        metadata={"description": "The filters applied (area resolved to {code, name, type})"},
    )
    today = ma.fields.String(metadata={"description": "The day ending_soon is counted from"})
    ending_soon_days = ma.fields.Integer()
    totals = ma.fields.Nested(
        FundingStatsSchema, metadata={"description": "Every selected award once, in full"}
    )
    programmes = ma.fields.Nested(
        FundingProgrammesSchema,
        metadata={"description": "Which programmes are counted"},
    )
    regrants_left_out = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "Regrants not counted because an award they were paid through (their "
            "parent, or the parent's parent…) is counted in this answer (absent with "
            "include_regrants=true)"
        },
    )
    groups = ma.fields.List(
        ma.fields.Nested(FundingGroupSchema),
        metadata={
            "description": "by=programme, financial_year or organisation: one entry per group; programmes and organisations by amount (largest first), years in order"
        },
    )
    headline = ma.fields.Nested(
        FundingHeadlineSchema,
        metadata={
            "description": "With area: the area's own awards apart from the shared, "
            "borough-, BCU- and London-wide awards reaching it, each at its own scope in full; "
            "added into the area's figure only with apportion=population (its rule stated)"
        },
    )
    rule = ma.fields.String(
        metadata={
            "description": "The rules in words: by=borough, ward or bcu, how awards are placed; "
            "with area, which awards reach it; with by=financial_year or financial_year, the "
            "year an award counts in (or, with spread=planned_dates, how its money is divided "
            "between the years); which regrants are left out"
        }
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={
            "description": "by=borough: every borough in scope (all 33 without area), by name, with awards to the borough or its wards"
        },
    )
    wards = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={"description": "by=ward: wards with awards made to the ward itself"},
    )
    bcus = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={
            "description": "by=bcu: every BCU in scope, with awards to the BCU, its boroughs or their wards"
        },
    )
    borough_wide = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={
            "description": "by=ward: awards to a whole borough, per borough (not divided among its wards)"
        },
    )
    bcu_wide = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={
            "description": "by=borough or ward: awards to a whole BCU, per BCU (not divided among its boroughs)"
        },
    )
    not_in_a_bcu = ma.fields.List(
        ma.fields.Nested(FundingAreaStatsSchema),
        metadata={
            "description": "by=bcu: awards to the City of London, which is policed by the City of London Police and belongs to no Met BCU"
        },
    )
    london_wide = ma.fields.Nested(
        LondonWideStatsSchema,
        metadata={
            "description": "Awards for all of London, and for the Metropolitan Police "
            "District (London but the City of London: police_district), not divided among "
            "boroughs"
        },
    )
    unplaced = ma.fields.Nested(
        FundingStatsSchema,
        metadata={"description": "Awards with no London beneficiary area recorded"},
    )
    apportionment = ma.fields.Nested(FundingApportionmentSchema)
    spread = ma.fields.Nested(
        FundingSpreadSchema,
        metadata={"description": "How awards are put in financial years (spread=)"},
    )


class NeedRanksSchema(Schema):
    amount = ma.fields.Integer(allow_none=True)
    per_1000_residents = ma.fields.Integer(allow_none=True)
    per_1000_offences = ma.fields.Integer(allow_none=True)
    population = ma.fields.Integer(allow_none=True)
    offences = ma.fields.Integer(allow_none=True)


class VsLondonSchema(Schema):
    per_1000_residents = ma.fields.Float(allow_none=True)
    per_1000_offences = ma.fields.Float(allow_none=True)


class NeedLondonSchema(Schema):
    amount = ma.fields.Float(metadata={"description": "Pounds: the areas' basis amounts"})
    population = ma.fields.Integer(allow_none=True)
    offences = ma.fields.Integer(allow_none=True)
    per_1000_residents = ma.fields.Float(allow_none=True)
    per_1000_offences = ma.fields.Float(allow_none=True)


class NeedPeriodsSchema(Schema):
    population = ma.fields.Nested(PopulationNoteSchema, allow_none=True)
    offences = ma.fields.Nested(CrimePeriodSchema, allow_none=True)
    funding = ma.fields.String(
        metadata={"description": "The financial year asked for, or 'all financial years'"}
    )


class WiderAreaSchema(FundingMoneySchema):
    area = ma.fields.Nested(AreaRefSchema)
    note = ma.fields.String()


class WiderAwardsSchema(Schema):
    london_wide = ma.fields.Nested(FundingMoneySchema)
    unplaced = ma.fields.Nested(FundingMoneySchema)
    bcu_wide = ma.fields.List(
        ma.fields.Nested(WiderAreaSchema), metadata={"description": "level=borough"}
    )
    not_in_a_bcu = ma.fields.List(
        ma.fields.Nested(WiderAreaSchema), metadata={"description": "level=bcu"}
    )


class NeedAreaSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    awards = ma.fields.Integer()
    awards_without_amount = ma.fields.Integer(
        metadata={
            "description": "Of awards, those with no amount recorded: amount counts the known "
            "amounts only, and an area whose every award has none has null rates and no "
            "money rank (its money is not known, not 0)"
        }
    )
    amount = ma.fields.Float(
        metadata={
            "description": "Pounds awarded to the area (borough: the borough or its wards; BCU: the BCU, its boroughs or their wards); shared awards divided equally; London-wide and BCU-wide money not included"
        }
    )
    apportioned_amount = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "With apportion=population: amount plus the population share of London-wide and BCU-wide money"
        },
    )
    population = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Residents (latest loaded estimate; a BCU sums its boroughs); period in periods.population"
        },
    )
    offences = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "Recorded offences, all categories, in periods.offences (null for the City of London: not in Met figures)"
        },
    )
    per_1000_residents = ma.fields.Float(
        allow_none=True, metadata={"description": "basis amount ÷ population × 1,000 (pounds)"}
    )
    per_1000_offences = ma.fields.Float(
        allow_none=True, metadata={"description": "basis amount ÷ offences × 1,000 (pounds)"}
    )
    vs_london = ma.fields.Nested(
        VsLondonSchema,
        metadata={
            "description": "Each per-1,000 figure ÷ the London figure (1.0 = the London average)"
        },
    )
    rank = ma.fields.Nested(
        NeedRanksSchema,
        metadata={
            "description": "Rank by each measure among the areas (1 = highest; ties share a rank; null when the figure is missing)"
        },
    )
    note = ma.fields.String()


class FundingNeedSchema(Schema):
    level = ma.fields.String()
    filters = ma.fields.Nested(FundingFiltersSchema)
    basis = ma.fields.String(
        metadata={
            "description": "amount, or apportioned_amount with apportion=population: the money the per-1,000 figures use"
        }
    )
    areas = ma.fields.List(ma.fields.Nested(NeedAreaSchema))
    london = ma.fields.Nested(
        NeedLondonSchema,
        metadata={
            "description": "The London average: total basis amount, population and offences of the areas, and per-1,000 figures as total ÷ total (per_1000_offences over the areas with crime figures)"
        },
    )
    periods = ma.fields.Nested(
        NeedPeriodsSchema,
        metadata={
            "description": "population: reference_date and source; offences: start and end month (YYYY-MM) and months; funding: the financial year asked for or all"
        },
    )
    wider_awards = ma.fields.Nested(
        WiderAwardsSchema,
        metadata={
            "description": "Awards not in the rows' amount: london_wide, bcu_wide (level=borough) and not_in_a_bcu (level=bcu, the City of London) are in apportioned_amount by population share with apportion=population, otherwise in no row; unplaced (no London area) is in no row"
        },
    )
    programmes = ma.fields.Nested(
        FundingProgrammesSchema,
        metadata={"description": "Which programmes are counted"},
    )
    rule = ma.fields.String()
    ranking = ma.fields.String()
    apportionment = ma.fields.Nested(FundingApportionmentSchema)
    spread = ma.fields.Nested(
        FundingSpreadSchema,
        metadata={"description": "How awards are put in financial years (spread=)"},
    )
    notes = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "Present when crime or population figures are not loaded"},
    )


class FundingTimelinessArgsSchema(Schema):
    by = ma.fields.String(
        load_default="programme",
        validate=ma.validate.OneOf(TIMELINESS_BY),
        metadata={"description": "How to group the awards (default programme)"},
    )
    programme = _PROGRAMME
    financial_year = _FINANCIAL_YEAR
    area = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={
            "description": "Area code or name (Kingston, Central West BCU, E05013938): awards "
            "whose beneficiary areas are the area, above it (London-wide, its BCU) or inside "
            "it, as /funding/summary"
        },
    )
    include_regrants = _REGRANTS
    include_other_programmes = include_other_programmes_field()


class WorstAwardSchema(Schema):
    ref = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    days = ma.fields.Integer(metadata={"description": "Its decided_after_start_days"})


class TimelinessStatsSchema(Schema):
    awards = ma.fields.Integer(
        metadata={"description": "Awards counted (an award shared between groups in each)"}
    )
    dated_awards = ma.fields.Integer(
        metadata={"description": "Awards with an award date and a period start"}
    )
    undated_awards = ma.fields.Integer(
        metadata={
            "description": "Awards with no award date (or no period start): never counted as on time"
        }
    )
    late_awards = ma.fields.Integer(
        metadata={"description": "Dated awards decided after their period began (days > 0)"}
    )
    share_late = ma.fields.Float(
        allow_none=True,
        metadata={"description": "late_awards ÷ dated_awards (0–1); null with no dated award"},
    )
    median_days = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "Median decided_after_start_days of the dated awards (negative: on time)"
        },
    )
    worst_days = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "The largest decided_after_start_days of the dated awards"},
    )
    median_late_days = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Median decided_after_start_days of the late awards only"},
    )
    late_amount = ma.fields.Float(
        metadata={
            "description": "Pounds of the late awards (a shared award's amount divided equally)"
        }
    )
    dated_amount = ma.fields.Float(metadata={"description": "Pounds of the dated awards"})
    worst_award = ma.fields.Nested(
        WorstAwardSchema,
        allow_none=True,
        metadata={"description": "The dated award decided latest after its period began"},
    )


class TimelinessGroupSchema(TimelinessStatsSchema):
    programme = ma.fields.Nested(
        ProgrammeRefSchema,
        allow_none=True,
        metadata={"description": "by=programme: {id, name}, null for awards with no programme"},
    )
    financial_year = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "by=financial_year: 2021/22 (an award over several years in "
            "its first), null when not recorded"
        },
    )


class TimelinessAreaSchema(TimelinessStatsSchema):
    area = ma.fields.Nested(AreaRefSchema)
    note = ma.fields.String(
        metadata={"description": "not_in_a_bcu: why the City of London has no BCU"}
    )


class TimelinessPeriodSchema(Schema):
    earliest_start = ma.fields.Date(
        allow_none=True,
        metadata={"description": "The earliest first day of a period the counted awards fund"},
    )
    latest_start = ma.fields.Date(
        allow_none=True,
        metadata={"description": "The latest first day of a period the counted awards fund"},
    )


class FundingTimelinessSchema(Schema):
    by = ma.fields.String()
    filters = ma.fields.Nested(FundingFiltersSchema)
    rule = ma.fields.String(metadata={"description": "The lateness rule, in words"})
    period = ma.fields.Nested(
        TimelinessPeriodSchema, metadata={"description": "The data period the figures cover"}
    )
    totals = ma.fields.Nested(
        TimelinessStatsSchema, metadata={"description": "Every selected award once, in full"}
    )
    programmes = ma.fields.Nested(
        FundingProgrammesSchema, metadata={"description": "Which programmes are counted"}
    )
    regrants_left_out = ma.fields.Nested(
        FundingMoneySchema,
        metadata={
            "description": "Regrants not counted because an award they were paid through (their "
            "parent, or the parent's parent…) is counted in this answer (absent with "
            "include_regrants=true)"
        },
    )
    groups = ma.fields.List(
        ma.fields.Nested(TimelinessGroupSchema),
        metadata={
            "description": "by=programme (most late awards first) or financial_year (in order)"
        },
    )
    placement_rule = ma.fields.String(
        metadata={"description": "by=borough or bcu: how awards are placed"}
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(TimelinessAreaSchema),
        metadata={"description": "by=borough: every borough in scope, by name"},
    )
    bcus = ma.fields.List(
        ma.fields.Nested(TimelinessAreaSchema),
        metadata={"description": "by=bcu: every BCU in scope, by name"},
    )
    bcu_wide = ma.fields.List(
        ma.fields.Nested(TimelinessAreaSchema),
        metadata={"description": "by=borough: awards to a whole BCU, per BCU (not divided)"},
    )
    not_in_a_bcu = ma.fields.List(
        ma.fields.Nested(TimelinessAreaSchema),
        metadata={"description": "by=bcu: awards to the City of London (in no Met BCU)"},
    )
    london_wide = ma.fields.Nested(
        TimelinessStatsSchema,
        metadata={"description": "by=borough or bcu: awards for all of London (not divided)"},
    )
    unplaced = ma.fields.Nested(
        TimelinessStatsSchema,
        metadata={"description": "by=borough or bcu: awards with no London beneficiary area"},
    )
    notes = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "What the figures cannot say (undated awards …)"},
    )
