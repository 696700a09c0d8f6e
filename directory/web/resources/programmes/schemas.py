"""Programmes and their allocation formulas: arguments and answers (documentation)."""

from __future__ import annotations

import marshmallow as ma

from directory.web.api import Schema
from directory.web.resources.common import (
    AreaRefSchema,
    PageArgsSchema,
    PageSchema,
    ProgrammesCountedSchema,
    include_other_programmes_field,
)
from directory.web.resources.funding.schemas import (
    FINANCIAL_YEAR_PATTERN,
    CrimePeriodSchema,
    FundingStatsSchema,
    PopulationNoteSchema,
)


class ProgrammeListArgsSchema(PageArgsSchema):
    include_regrants = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Count every regrant (paid through another award the directory "
            "holds) too; by default one is left out when an award it was paid through is "
            "counted in the same answer"
        },
    )
    include_other_programmes = include_other_programmes_field()


class ProgrammeDetailArgsSchema(Schema):
    include_regrants = ma.fields.Boolean(
        load_default=False,
        metadata={
            "description": "Count every regrant (paid through another award the directory "
            "holds) too; by default one is left out when an award it was paid through is "
            "counted in the same answer"
        },
    )


class FinancialYearsSchema(Schema):
    first = ma.fields.String(metadata={"description": "e.g. 2021/22"})
    last = ma.fields.String()


class ProgrammeSummarySchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    funder_ref = ma.fields.String(allow_none=True, metadata={"description": "The funder's org-id"})
    description = ma.fields.String(allow_none=True)
    community_safety = ma.fields.Boolean(
        metadata={
            "description": "Counted by default in the funding answers (programmes.csv's "
            "column, or for a programme an import named the rule of "
            "directory/data/community_safety.toml)"
        }
    )
    awards = ma.fields.Integer(metadata={"description": "Listed awards of the programme"})
    amount = ma.fields.Float(metadata={"description": "Pounds, every award in full"})
    financial_years = ma.fields.Nested(
        FinancialYearsSchema,
        allow_none=True,
        metadata={"description": "first and last financial year with awards"},
    )
    allocation = ma.fields.String(
        allow_none=True,
        metadata={"description": "formula | competitive | decision | unknown (from formulas.toml)"},
    )
    formula_documented = ma.fields.Boolean(
        metadata={
            "description": "Whether directory/data/formulas.toml documents how it is "
            "allocated (not whether a formula is published: see formula_status)"
        }
    )
    formula_status = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "known | partly known | not published | not applicable: how much "
            "of its allocation formula is public (the detail's formula.status); null when "
            "undocumented"
        },
    )
    url = ma.fields.String()


class ProgrammePageSchema(PageSchema):
    contents = ma.fields.List(ma.fields.Nested(ProgrammeSummarySchema))
    programmes = ma.fields.Nested(
        ProgrammesCountedSchema,
        metadata={
            "description": "Which programmes are listed: counted (community_safety by default, "
            "or all), the rule in words, and the other programmes left out (programmes, "
            "awards, amount)"
        },
    )


class ProgrammeFormulaInputSchema(Schema):
    name = ma.fields.String()
    weight = ma.fields.Raw(
        metadata={
            "description": 'A number or share when published, otherwise "unknown"',
            "oneOf": [{"type": "number"}, {"type": "string"}],
        }
    )
    source = ma.fields.String()
    url = ma.fields.String()


class SourceSchema(Schema):
    title = ma.fields.String()
    url = ma.fields.String()


class ProgrammeFormulaSchema(Schema):
    name = ma.fields.String()
    allocation = ma.fields.String(
        metadata={"description": "formula | competitive | decision | unknown"}
    )
    status = ma.fields.String(
        metadata={"description": "known | partly known | not published | not applicable"}
    )
    description = ma.fields.String()
    known = ma.fields.List(
        ma.fields.String(), metadata={"description": "Facts with a public source"}
    )
    unknown = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "What could not be established (never estimated)"},
    )
    notes = ma.fields.String()
    inputs = ma.fields.List(ma.fields.Nested(ProgrammeFormulaInputSchema))
    sources = ma.fields.List(ma.fields.Nested(SourceSchema), metadata={"description": "title, url"})
    documented_in = ma.fields.String()


class ProgrammePeriodsSchema(Schema):
    population = ma.fields.Nested(PopulationNoteSchema, allow_none=True)
    offences = ma.fields.Nested(CrimePeriodSchema, allow_none=True)


class AllocationMoneySchema(Schema):
    awards = ma.fields.Integer()
    amount = ma.fields.Float(metadata={"description": "Pounds"})
    shared_awards = ma.fields.Integer(
        metadata={"description": "Awards naming several boroughs, divided equally"}
    )


class AllocationTotalsSchema(FundingStatsSchema):
    """Every award once: the length statistics (by_financial_year: awards, amount and
    shared_awards only)."""

    shared_awards = ma.fields.Integer()


class AllocationAreaSchema(AllocationMoneySchema):
    area = ma.fields.Nested(AreaRefSchema)
    share_of_borough_money = ma.fields.Float(
        allow_none=True, metadata={"description": "Its share of the money placed in boroughs"}
    )
    population_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Its share of London's population"}
    )
    offences_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Its share of London's recorded offences"}
    )


class ProgrammeYearAllocationsSchema(Schema):
    financial_year = ma.fields.String(allow_none=True)
    totals = ma.fields.Nested(AllocationMoneySchema)
    london_wide = ma.fields.Nested(AllocationMoneySchema)
    bcu_wide = ma.fields.List(ma.fields.Nested(AllocationAreaSchema))
    boroughs = ma.fields.List(ma.fields.Nested(AllocationAreaSchema))
    unplaced = ma.fields.Nested(AllocationMoneySchema)


class ProgrammeAllocationsSchema(Schema):
    totals = ma.fields.Nested(
        AllocationTotalsSchema,
        metadata={
            "description": "Every award once: awards, amount, length statistics, ending soon"
        },
    )
    london_wide = ma.fields.Nested(
        AllocationMoneySchema, metadata={"description": "Awards for all of London: awards, amount"}
    )
    bcu_wide = ma.fields.List(
        ma.fields.Nested(AllocationAreaSchema),
        metadata={"description": "Awards to a whole BCU, per BCU"},
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(AllocationAreaSchema),
        metadata={
            "description": "Every borough: awards and amount to it or its wards (shared awards divided equally), share_of_borough_money, population_share, offences_share"
        },
    )
    unplaced = ma.fields.Nested(
        AllocationMoneySchema, metadata={"description": "Awards with no London beneficiary area"}
    )
    by_financial_year = ma.fields.List(
        ma.fields.Nested(ProgrammeYearAllocationsSchema),
        metadata={"description": "The same per financial year (boroughs with awards only)"},
    )


class ProgrammeInfoSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    funder_ref = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    community_safety = ma.fields.Boolean()


class ProgrammeDetailSchema(Schema):
    programme = ma.fields.Nested(
        ProgrammeInfoSchema,
        metadata={"description": "id, name, funder_ref, description, community_safety"},
    )
    formula = ma.fields.Nested(
        ProgrammeFormulaSchema,
        allow_none=True,
        metadata={"description": "The documented allocation formula; null when none is recorded"},
    )
    allocations = ma.fields.Nested(ProgrammeAllocationsSchema)
    programmes = ma.fields.Nested(
        ProgrammesCountedSchema,
        metadata={
            "description": "counted: named (the programme asked for is counted whatever its "
            "classification) and the rule in words"
        },
    )
    rule = ma.fields.String(metadata={"description": "How awards are placed"})
    comparison = ma.fields.String()
    periods = ma.fields.Nested(
        ProgrammePeriodsSchema,
        metadata={"description": "Periods of the population and crime figures used for the shares"},
    )


# -- GET /programmes/{id}/fairness ----------------------------------------------------------------
class ProgrammeFairnessArgsSchema(ProgrammeDetailArgsSchema):
    financial_year = ma.fields.String(
        validate=ma.validate.Length(min=1, max=20),
        metadata={
            "description": "Only this UK financial year (1 April to 31 March): 2021/22, or "
            "2021-22, 2021/2022, FY21/22, 21/22. Without it every year with borough-level "
            "allocations; a year with none answers an empty years list and a note; anything "
            "else is a 422 invalid-input naming financial_year.",
            "pattern": FINANCIAL_YEAR_PATTERN,
            "example": "2023/24",
        },
    )


class FairnessFiltersSchema(Schema):
    financial_year = ma.fields.String(allow_none=True, metadata={"description": "Normalised"})
    include_regrants = ma.fields.Boolean()


class FairnessMoneySchema(Schema):
    boroughs = ma.fields.Float(metadata={"description": "Pounds placed in boroughs"})
    compared = ma.fields.Float(
        metadata={"description": "Pounds placed in the compared boroughs (with crime figures)"}
    )
    london_wide = ma.fields.Float(metadata={"description": "Pounds to all of London, not compared"})
    bcu_wide = ma.fields.Float(metadata={"description": "Pounds to whole BCUs, not compared"})
    unplaced = ma.fields.Float(metadata={"description": "Pounds with no London area"})
    awards = ma.fields.Integer(metadata={"description": "Awards of the programme that year"})


class FairnessOffencesSchema(Schema):
    period = ma.fields.Nested(CrimePeriodSchema, allow_none=True)
    basis = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "before_year: the 12 months before the year's 1 April; latest: those "
            "months are not all loaded, so the latest 12 loaded months (a fallback)"
        },
    )
    note = ma.fields.String()


class FairnessRanksSchema(Schema):
    money = ma.fields.Float(metadata={"description": "1 = most money; ties share their average"})
    offences = ma.fields.Float(
        metadata={"description": "1 = most offences; ties share their average"}
    )


class FairnessBoroughSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    bcu = ma.fields.Nested(AreaRefSchema, allow_none=True)
    amount = ma.fields.Float(metadata={"description": "Pounds placed in the borough"})
    offences = ma.fields.Integer(metadata={"description": "Recorded offences in the period"})
    population = ma.fields.Integer(allow_none=True)
    money_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Share of the compared boroughs' money"}
    )
    offences_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Share of the compared boroughs' offences"}
    )
    population_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Share of the compared boroughs' population"}
    )
    gap = ma.fields.Float(allow_none=True, metadata={"description": "money_share − offences_share"})
    rank = ma.fields.Nested(FairnessRanksSchema)
    london_offences_share = ma.fields.Float(
        allow_none=True, metadata={"description": "Share of London's recorded offences"}
    )
    note = ma.fields.String()


class FairnessBriefSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    amount = ma.fields.Float()
    money_share = ma.fields.Float(allow_none=True)
    offences_share = ma.fields.Float(allow_none=True)
    gap = ma.fields.Float(allow_none=True)


class FairnessNotComparedSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    amount = ma.fields.Float()
    note = ma.fields.String()


class FairnessCorrelationSchema(Schema):
    spearman = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Spearman's rank correlation of money and offences; null "
                  "with fewer than 3 boroughs or no spread"},
    )  # fmt: skip
    n = ma.fields.Integer(metadata={"description": "Boroughs compared"})
    note = ma.fields.String()


class FairnessSideSchema(Schema):
    area = ma.fields.Nested(AreaRefSchema)
    amount = ma.fields.Float(metadata={"description": "Pounds (0 with no allocation)"})
    offences = ma.fields.Integer()


class FairnessPairSchema(Schema):
    bcu = ma.fields.Nested(AreaRefSchema)
    borough = ma.fields.Nested(
        FairnessSideSchema, metadata={"description": "More offences, less money"}
    )
    neighbour = ma.fields.Nested(FairnessSideSchema)


class FairnessYearSchema(Schema):
    financial_year = ma.fields.String()
    money = ma.fields.Nested(FairnessMoneySchema)
    offences = ma.fields.Nested(
        FairnessOffencesSchema, metadata={"description": "Which recorded offences were used"}
    )
    boroughs = ma.fields.List(
        ma.fields.Nested(FairnessBoroughSchema),
        metadata={"description": "The compared boroughs, by name"},
    )
    not_compared = ma.fields.List(
        ma.fields.Nested(FairnessNotComparedSchema),
        metadata={"description": "Boroughs with money but no Met crime figures (the City)"},
    )
    correlation = ma.fields.Nested(FairnessCorrelationSchema)
    furthest_below = ma.fields.List(
        ma.fields.Nested(FairnessBriefSchema),
        metadata={"description": "Up to 3 boroughs most below their offence share"},
    )
    furthest_above = ma.fields.List(
        ma.fields.Nested(FairnessBriefSchema),
        metadata={"description": "Up to 3 boroughs most above their offence share"},
    )
    within_bcu = ma.fields.List(
        ma.fields.Nested(FairnessPairSchema),
        metadata={
            "description": "Every borough with more offences than a neighbour in its BCU that "
            "got less money than it (no allocation counts as 0)"
        },
    )


class FairnessPeriodsSchema(Schema):
    population = ma.fields.Nested(PopulationNoteSchema, allow_none=True)


class FairnessProgrammeSchema(Schema):
    id = ma.fields.String()
    name = ma.fields.String()


class ProgrammeFairnessSchema(Schema):
    programme = ma.fields.Nested(FairnessProgrammeSchema, metadata={"description": "id, name"})
    filters = ma.fields.Nested(FairnessFiltersSchema)
    years = ma.fields.List(
        ma.fields.Nested(FairnessYearSchema),
        metadata={"description": "Each financial year with money placed in boroughs"},
    )
    method = ma.fields.String(metadata={"description": "The method and its limits, in words"})
    rule = ma.fields.String(metadata={"description": "How awards are placed"})
    programmes = ma.fields.Nested(ProgrammesCountedSchema)
    periods = ma.fields.Nested(
        FairnessPeriodsSchema, metadata={"description": "The population estimates' date"}
    )
    notes = ma.fields.List(ma.fields.String())
