"""Read models every node feeds each applied block: durable, rebuildable, identical on every node.

``views/projection.py`` holds the contract (a view is a fold over applied
blocks, written in the block's own batch) and :class:`Views`, the ledger
observer that feeds them; each view is one module with its keys, its apply
and its queries:

| module | view | answers |
|---|---|---|
| ``units.py`` | the unit tree, cells and committees, open/closed dates | (used by the others) |
| ``members.py`` | members now and on any past date, unit rolls, members by status | roll on a date |
| ``stats.py`` | meeting figures per (unit, month), own and rolled up; **the definitions** | ``unit_stats`` |
| ``timeline.py`` | a member's timeline | ``member_timeline`` |
| ``lists.py`` | a unit's documents by type and date, a member's documents, a unit's members | ``unit_documents``, ``member_documents``, ``unit_members`` |
| ``names.py`` | the words of units' and members' names, folded (no diacritics, lower case) | ``search_names`` |
| ``directives.py`` | directives, the units they address and their answers, rolled up; **definitions** | ``directive_figures``, ``unit_directives`` |
| ``tasks.py`` | resolution tasks and their progress reports, rolled up; **definitions** | ``task_figures``, ``unit_tasks``, ``resolution_tasks`` |
| ``polls.py`` | every ballot of a poll, a unit's polls (tallies are the registry's) | ``poll_ballots``, ``unit_polls`` |
| ``similarity.py`` | near-duplicate minutes and resolutions (MinHash, LSH), repeated opinions; **trailing** | ``near_duplicates``, ``repeated_opinions`` |
| ``warnings.py`` | early warnings: **the rules and thresholds**, absences in a row, findings without follow-up | ``warnings_for`` |
| ``reminders.py`` | what is due or late in a subtree (no state of its own) | ``due_items`` |

``records.py`` says what they all agree on (a record's date, the unit it
concerns); ``keys.py`` how keys are spelled; ``paging.py`` how lists page.

Adding a view: write a module with a class that has ``name``, ``version``,
``bootstrap(w, genesis)`` and ``apply(w, record, facts, sign)`` (the
``View`` protocol in projection.py: count the record with sign +1, take
exactly that back with sign -1, reading changing state only through
``facts.get``), document its keys in the module docstring under a prefix of
its own (``w/<two letters>/``), add the class to :data:`VIEWS` (after the
views it reads) -- or, if it is too dear for the apply path and reads
nothing of the others that changes, to :data:`TRAILING` with its ``types``
and ``prefixes`` ("Trailing views" in projection.py) -- and give it a test that compares its figures with counts
made straight from the documents. Bumping a view's ``version`` rebuilds the
views of every store on its next open.
"""

from .directives import DirectivesView
from .lists import ListsView, member_documents, unit_documents, unit_members
from .members import MembersView
from .names import NamesView, search_names
from .polls import PollsView
from .projection import Facts, Reader, Record, Trail, View, Views, Writer
from .similarity import SimilarityView
from .stats import StatsView, unit_stats
from .tasks import TasksView
from .timeline import TimelineView, member_timeline
from .units import UnitsView
from .warnings import WarningsView

__all__ = ["VIEWS", "TRAILING", "Views", "Trail", "View", "Record", "Facts", "Writer", "Reader", "UnitsView", "MembersView", "StatsView",
           "TimelineView", "ListsView", "NamesView", "DirectivesView", "TasksView", "PollsView", "SimilarityView",
           "WarningsView", "unit_stats", "member_timeline", "unit_documents", "member_documents", "unit_members",
           "search_names"]

# In apply order: a view comes after those whose state it reads.
VIEWS = (UnitsView, MembersView, StatsView, TimelineView, ListsView, NamesView, DirectivesView, TasksView, PollsView,
         WarningsView)

# Fed behind the apply path, with a height of their own (projection.py, "Trailing views").
TRAILING = (SimilarityView,)
