"""What of a script runs: comments, strings and function bodies never do, a DO block does.

Found on the reference project's own history: `migrate lint` on an empty database failed
with five "destructive-delete" errors, every one inside a procrastinate function body (and
two of them quoted from the middle of a body, split at a `;` inside it).
"""

from __future__ import annotations

from lumiku_ops.migrate.lint import bookkeeping_lines, destructive_statements
from lumiku_ops.migrate.sql_text import executed_text, statement_lines

FUNCTION = """CREATE FUNCTION prune(job_id bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM jobs WHERE id = job_id;
    DROP TABLE IF EXISTS scratch;
END;
$$;
CREATE FUNCTION tagged() RETURNS void LANGUAGE sql AS $body$ DELETE FROM jobs; $body$;
"""


def test_executed_text_keeps_positions_and_lines_and_blanks_what_never_runs() -> None:
    sql = (
        "-- DELETE FROM a;\n"
        "/* outer /* DROP TABLE b; */ still a comment; */ SELECT 'DELETE FROM c;';\n"
        "SELECT E'it\\'s; DELETE FROM d', \"DELETE\";\n" + FUNCTION
    )
    executed = executed_text(sql)
    assert len(executed) == len(sql)
    assert [i for i, c in enumerate(executed) if c == "\n"] == [
        i for i, c in enumerate(sql) if c == "\n"
    ]
    assert "DELETE FROM" not in executed.replace('"DELETE"', "")
    assert "DROP TABLE" not in executed
    assert '"DELETE"' in executed  # a quoted identifier is a name, kept
    assert executed.count(";") == 4  # the four statements' own ends, none from inside


def test_a_function_body_a_comment_or_a_string_is_no_destructive_statement() -> None:
    sql = "-- DROP TABLE users;\nSELECT 'TRUNCATE users';\n" + FUNCTION
    assert destructive_statements(sql, allowed=False) == []


def test_a_do_block_runs_so_its_delete_counts_on_its_own_line() -> None:
    sql = "SELECT 1;\nDO $$\nBEGIN\n    DELETE FROM sessions;\nEND\n$$;\n"
    (found,) = destructive_statements(sql, allowed=False)
    assert (found.rule, found.line) == ("destructive-delete", 4)


def test_a_commit_inside_a_procedure_body_is_no_transaction_break() -> None:
    sql = (
        "BEGIN;\nCREATE PROCEDURE batch() LANGUAGE plpgsql AS $$\nBEGIN\n"
        "COMMIT;\nEND\n$$;\nCOMMIT;\n"
    )
    assert destructive_statements(sql, allowed=False) == []
    assert [f.rule for f in destructive_statements(sql + "SELECT 1;\n", allowed=False)] == [
        "destructive-transaction-break"
    ]


def test_the_version_tables_statements_are_the_tools_bookkeeping() -> None:
    sql = (
        "CREATE TABLE alembic_version (\n    version_num VARCHAR(32) NOT NULL\n);\n"
        "CREATE TABLE alembic_version_notes (note varchar(20));\n"
        "INSERT INTO alembic_version (version_num) VALUES ('0001');\n"
        'UPDATE "_prisma_migrations" SET finished_at = now();\n'
    )
    assert bookkeeping_lines(sql, "alembic_version") == {1, 2, 3, 5}
    assert bookkeeping_lines(sql, "_prisma_migrations") == {6}
    assert [first for first, _, _ in statement_lines(executed_text(sql))] == [1, 4, 5, 6]
