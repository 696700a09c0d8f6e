"""Funding transparency use cases, one module each: ``summary`` (funding summaries),
``need`` (funding against population and recorded crime), ``programmes`` (allocation
formulas beside the actual allocations), ``outcomes`` and ``timeliness`` (awards decided
after the period they fund began, by the one rule of ``timing``); ``awards`` holds what they share
(which awards count, where their money is placed, the statistics of a group) and
``headline`` an area's own awards apart from the shared and wider awards reaching it (used
by the summary and the patch). No Flask here.

Everything is answered from :class:`directory.usecases.facts.FundingData`, read once per data
version and shared with the patch, so a request is dictionary work. The need figures
(crime, population) are imported by :mod:`directory.ingest.need`.

Where an award's money is placed
--------------------------------
An award's beneficiary areas are reduced to the widest ones it names (an area inside
another area it also names adds nothing; an award naming London is London-wide). Then:

- London-wide awards are reported as ``london_wide``, BCU-wide awards per BCU as
  ``bcu_wide``; neither is divided among boroughs unless ``apportion=population`` asks for
  it, and then the rule is stated in the answer;
- an award to wards counts for the wards' boroughs (at borough level);
- an award naming several areas of the same level (three boroughs) counts as an award in
  each, and its amount is divided equally between them (``shared_awards`` says how many of
  a group's awards were shared); so amounts add up to the total and nothing is counted
  twice;
- an award with no London beneficiary area is ``unplaced``;
- a regrant (an award paid through another award the directory holds, e.g. MOPAC → SNB →
  charity) is left out of an answer, unless ``include_regrants``, when an award it was paid
  through (its parent, the parent's parent…) is counted in the same answer: its money is
  there. When the answer's filters left every such award out it is counted
  (``awards.count_once``), so an answer never counts money twice nor drops money it does
  not count elsewhere.

An area's headline
------------------
With an area, every award reaching it is counted once, in full, at one scope there: its
``own`` (every area the award names is the area or inside it), ``shared`` (it names areas
outside it too, none above it), ``borough_wide`` (a ward's borough), ``bcu_wide`` or
``london_wide``; own is the figure to compare areas by, and the wider scopes are added in
only by ``apportion=population`` (see :mod:`.headline`).
"""
