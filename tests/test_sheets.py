"""Sheet files: the shipped ones load; a broken one names file, field and problem."""
import subprocess
import sys
from pathlib import Path

import pytest

from kefu.sheets import SchemaError, load_sheets

GOOD_FIELD = '''
[[fields]]
name = "title"
type = "text"
label = { en = "Title", zh = "标题" }
'''
HEAD = '''name = "notes"
label = { en = "Notes", zh = "笔记" }
[permissions]
staff = ["read"]
'''


def write(directory: Path, text: str, name: str = "notes") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_for(tmp_path, text: str) -> list[str]:
    write(tmp_path, text)
    with pytest.raises(SchemaError) as caught:
        load_sheets(tmp_path)
    return caught.value.problems


def test_shipped_sheets_load():
    sheets = load_sheets()
    assert {"visitors", "roster"} <= set(sheets)
    visitors = sheets["visitors"]
    assert visitors.by_name["phone"].pii and visitors.by_name["phone"].type_name == "phone"
    for sheet in sheets.values():
        assert sheet.label["en"] and sheet.label["zh"]
        for field in sheet.fields:
            assert field.label["en"] and field.label["zh"], f"{sheet.name}.{field.name} needs both labels"
            for choice in field.choices:
                assert choice["en"] and choice["zh"]


@pytest.mark.parametrize("extra, expected", [
    ('colour = "red"\n' + GOOD_FIELD, "notes.toml: unknown key 'colour'"),
    ('search = ["nothing"]\n' + GOOD_FIELD, "search names unknown field 'nothing'"),
    (GOOD_FIELD + 'size = 3\n', "field 'title': unknown key 'size' for type text"),
    (GOOD_FIELD.replace('"text"', '"txet"'), "field 'title': unknown type 'txet'"),
    (GOOD_FIELD.replace(', zh = "标题"', ''), "field 'title': label needs both en and zh"),
    (GOOD_FIELD + '[[fields]]\nname = "kind"\ntype = "choice"\nlabel = { en = "K", zh = "类" }\n'
     'choices = [{ value = "a", en = "A" }]\n', "field 'kind': choice 'a' needs both en and zh labels"),
    (GOOD_FIELD + '[[fields]]\nname = "kind"\ntype = "choice"\nlabel = { en = "K", zh = "类" }\n',
     "field 'kind': choices must be a non-empty list"),
    (GOOD_FIELD + '[[fields]]\nname = "owner"\ntype = "ref"\nsheet = "nowhere"\nlabel = { en = "O", zh = "主" }\n',
     "field 'owner': ref to missing sheet 'nowhere'"),
    (GOOD_FIELD + '[[fields]]\nname = "id"\ntype = "int"\nlabel = { en = "I", zh = "号" }\n',
     "field 'id': the name is reserved"),
    (GOOD_FIELD + GOOD_FIELD, "field 'title' is declared twice"),
    (GOOD_FIELD + '[[fields]]\nname = "n"\ntype = "int"\nmin = 5\nmax = 1\nlabel = { en = "N", zh = "数" }\n',
     "field 'n': min is greater than max"),
    ('checks = ["os:system"]\n' + GOOD_FIELD, "check 'os:system' must be \"kefu.module:function\""),
    ('checks = ["kefu.incentives:no_such_check"]\n' + GOOD_FIELD,
     "check 'kefu.incentives:no_such_check' is not a function of the engine"),
    ('notices = ["os:system"]\n' + GOOD_FIELD, "notice 'os:system' must be \"kefu.module:function\""),
    ('notices = "kefu.roster:notices"\n' + GOOD_FIELD, "notices must be a list of \"kefu.module:function\""),
])
def test_broken_sheet_names_file_field_and_problem(tmp_path, extra, expected):
    top, _, rest = extra.partition("\n[[fields]]")      # sheet-level keys go before any table
    problems = problems_for(tmp_path, top + "\n" + HEAD + "\n[[fields]]" + rest)
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(tmp_path.name + "/notes.toml") for p in problems)


def test_role_problems(tmp_path):
    text = HEAD.replace('staff = ["read"]', 'staff = []\nboss = ["read"]\nsupervisor = ["read", "fly"]') + GOOD_FIELD
    problems = problems_for(tmp_path, text)
    assert any("role 'staff' has no actions" in p for p in problems)
    assert any("unknown role 'boss'" in p for p in problems)
    assert any("unknown action 'fly'" in p for p in problems)


def test_name_must_match_file(tmp_path):
    write(tmp_path, HEAD + GOOD_FIELD, name="other")
    with pytest.raises(SchemaError) as caught:
        load_sheets(tmp_path)
    assert "name = 'notes' must equal the file name 'other'" in caught.value.problems[0]


def test_all_problems_reported_at_once(tmp_path):
    write(tmp_path, HEAD + GOOD_FIELD.replace('"text"', '"nope"'), name="notes")
    write(tmp_path, 'name = "more"\nlabel = { en = "M", zh = "多" }\nwat = 1\n', name="more")
    with pytest.raises(SchemaError) as caught:
        load_sheets(tmp_path)
    text = "\n".join(caught.value.problems)
    assert "more.toml: unknown key 'wat'" in text and "more.toml: no [[fields]]" in text
    assert "notes.toml: field 'title': unknown type 'nope'" in text


def test_check_command_prints_one_line_per_problem(tmp_path):
    write(tmp_path, HEAD + GOOD_FIELD + 'size = 3\n[[fields]]\nname = "x"\ntype = "bogus"\nlabel = { en = "X", zh = "叉" }\n')
    result = subprocess.run([sys.executable, "-m", "kefu", "check"], capture_output=True, text=True,
                            env={"KEFU_SCHEMA": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "notes.toml: field 'title': unknown key 'size'" in lines[0]
    assert "notes.toml: field 'x': unknown type 'bogus'" in lines[1]


def test_check_command_passes_on_shipped_sheets():
    result = subprocess.run([sys.executable, "-m", "kefu", "check"], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent)
    assert result.returncode == 0
    assert result.stdout.startswith("ok:") and "visitors" in result.stdout


OWNER_FIELD = '''
[[fields]]
name = "keeper"
type = "user"
label = { en = "Keeper", zh = "负责人" }
'''
STATE_FIELD = '''
[[fields]]
name = "state"
type = "choice"
label = { en = "State", zh = "状态" }
readonly = true
choices = [{ value = "draft", en = "Draft", zh = "草稿" }, { value = "ok", en = "OK", zh = "通过" }]
'''


@pytest.mark.parametrize("section, expected", [
    ('[row_access]\nowner = "title"\n', "[row_access] owner must name a user field"),
    ('[row_access]\nowner = "keeper"\nvia = "keeper"\n', "needs exactly one of owner (a user field) or via"),
    ('[row_access]\nowner = "keeper"\nsee_all = ["boss"]\n', "see_all must be a list of roles"),
    ('[row_access]\nowner = "keeper"\nwho = 1\n', "[row_access] unknown key 'who'"),
    ('[approval]\nfield = "state"\ndraft = "draft"\napproved = "ok"\nby = "keeper"\n',
     "[approval] missing key 'at'"),
    ('[approval]\nfield = "title"\ndraft = "draft"\napproved = "ok"\nby = "keeper"\nat = "title"\nroles = ["gm"]\n',
     "[approval] field must name a choice field"),
    ('pinyin = ["keeper"]\n', "pinyin field 'keeper' is not text"),
])
def test_broken_row_access_approval_and_pinyin_are_named(tmp_path, section, expected):
    top, table = (section, "") if section.startswith("pinyin") else ("", section)
    problems = problems_for(tmp_path, top + HEAD + GOOD_FIELD + OWNER_FIELD + STATE_FIELD + table)
    assert any(expected in p for p in problems), problems


def test_indexes_are_made_for_declared_column_groups(store):
    names = store.index_names("tickets")
    assert "idx_tickets__created_at" in names
    if store.url:                          # SQLite's query plan: that SQLite uses it
        return
    plan = " ".join(r[3] for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM tickets WHERE created_at >= '2026-11-01' AND created_at < '2026-12-01'"))
    assert "idx_tickets__created_at" in plan


def test_search_may_name_a_ref_whose_sheet_has_a_search_of_its_own(tmp_path):
    ref = '[[fields]]\nname = "topic"\ntype = "ref"\nsheet = "topics"\nlabel = { en = "Topic", zh = "主题" }\n'
    topics = HEAD.replace('"notes"', '"topics"').replace("Notes", "Topics").replace("笔记", "主题") + GOOD_FIELD
    write(tmp_path, topics, "topics")
    problems = problems_for(tmp_path, 'search = ["title", "topic"]\n' + HEAD + GOOD_FIELD + ref)
    assert problems == ["schema/notes.toml: search names ref field 'topic' but sheet 'topics' has no search of "
                        "its own".replace("schema", tmp_path.name)]
    write(tmp_path, 'search = ["title"]\n' + topics, "topics")
    notes = load_sheets(tmp_path)["notes"]
    assert (notes.search, notes.search_refs, notes.searched) == (["title"], ["topic"], ["title", "topic"])
    when = '[[fields]]\nname = "due"\ntype = "date"\nlabel = { en = "Due", zh = "到期" }\n'
    assert any("search field 'due' is not text (or a ref" in p
               for p in problems_for(tmp_path, 'search = ["due"]\n' + HEAD + GOOD_FIELD + when))
