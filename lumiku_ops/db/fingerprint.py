"""A digest per table of everything Alembic's comparison can see of it, in one query.

Alembic's ``compare_metadata`` is a function of the models, the comparison options and
what SQLAlchemy reflects of the database's default schema: each table's columns (type,
nullability, default, identity, generated expression, collation, comment), its
constraints, indexes and comment, and the enum labels and domains its column types name.
Two databases whose digests agree on a set of tables therefore get the same differences
for those tables. lumiku-ops uses that to answer a target that is exactly at the head
with the comparison it already made on the shadow database at the head (one catalog
query instead of Alembic's reflection), and a replay that changed no table with the head
comparison it cached. The digest is built from PostgreSQL's own renderings
(``format_type``, ``pg_get_expr``, ``pg_get_constraintdef``, ``pg_get_indexdef``), so it is
stricter than Alembic: two databases Alembic would find equal may still differ here,
which only costs a comparison, never a wrong answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection

from sqlalchemy import Connection, text

# One row per fact, ordered; NULLs rendered by quote_nullable so that no two different
# rows print the same line.
_FACTS = text(
    r"""
    WITH rel AS (
        SELECT c.oid, c.relname, c.relkind, c.relispartition
        FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND (CAST(:names AS text[]) IS NULL OR c.relname = ANY(CAST(:names AS text[])))
    ), coltype AS (
        SELECT t.oid, CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END AS elem
        FROM pg_type t
    )
    SELECT rel.relname, 0 AS part, '' AS sort,
           concat_ws(' ', 'relation', current_schema(), rel.relkind::text,
                     rel.relispartition::text,
                     quote_nullable(obj_description(rel.oid, 'pg_class')))
    FROM rel
    UNION ALL
    SELECT rel.relname, 1, lpad(a.attnum::text, 5, '0'),
           concat_ws(' ', 'column', quote_ident(a.attname),
                     quote_nullable(format_type(a.atttypid, a.atttypmod)),
                     a.attnotnull::text, quote_nullable(pg_get_expr(d.adbin, d.adrelid)),
                     quote_nullable(a.attidentity::text), quote_nullable(a.attgenerated::text),
                     quote_nullable(co.collname),
                     quote_nullable(col_description(rel.oid, a.attnum)),
                     quote_nullable(et.typtype::text),
                     quote_nullable((SELECT string_agg(quote_literal(e.enumlabel), ','
                                                       ORDER BY e.enumsortorder)
                                     FROM pg_enum e WHERE e.enumtypid = ct.elem)),
                     quote_nullable(CASE WHEN et.typtype = 'd' THEN concat_ws(' ',
                         format_type(et.typbasetype, et.typtypmod), et.typnotnull::text,
                         quote_nullable(et.typdefault),
                         (SELECT string_agg(pg_get_constraintdef(k.oid), ',' ORDER BY k.conname)
                          FROM pg_constraint k WHERE k.contypid = et.oid)) END),
                     quote_nullable((SELECT concat_ws(',', s.seqrelid::regclass::text,
                                                      s.seqtypid::regtype::text, s.seqstart,
                                                      s.seqincrement, s.seqmin, s.seqmax,
                                                      s.seqcache, s.seqcycle)
                                     FROM pg_depend dep JOIN pg_sequence s ON s.seqrelid = dep.objid
                                     WHERE dep.classid = 'pg_class'::regclass
                                       AND dep.refclassid = 'pg_class'::regclass
                                       AND dep.refobjid = rel.oid AND dep.refobjsubid = a.attnum
                                       AND dep.deptype IN ('a', 'i')
                                     ORDER BY s.seqrelid LIMIT 1)))
    FROM rel
    JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    LEFT JOIN coltype ct ON ct.oid = a.atttypid
    LEFT JOIN pg_type et ON et.oid = ct.elem
    UNION ALL
    SELECT rel.relname, 2, k.conname,
           concat_ws(' ', 'constraint', quote_ident(k.conname), k.contype::text,
                     quote_nullable(pg_get_constraintdef(k.oid, true)))
    FROM rel JOIN pg_constraint k ON k.conrelid = rel.oid
    UNION ALL
    SELECT rel.relname, 3, ic.relname,
           concat_ws(' ', 'index', quote_ident(ic.relname), i.indisvalid::text,
                     quote_nullable(pg_get_indexdef(i.indexrelid)),
                     quote_nullable(obj_description(i.indexrelid, 'pg_class')))
    FROM rel JOIN pg_index i ON i.indrelid = rel.oid JOIN pg_class ic ON ic.oid = i.indexrelid
    ORDER BY 1, 2, 3
    """
)


def table_digests(connection: Connection, names: Collection[str] | None = None) -> dict[str, str]:
    """Each relation of the connection's default schema (of ``names``, default all) and
    the SHA-256 of what it holds; a name with no relation is absent."""
    rows = connection.execute(_FACTS, {"names": sorted(names) if names is not None else None})
    digests: dict[str, hashlib._Hash] = {}
    for table, _part, _sort, fact in rows:
        digest = digests.get(table)
        if digest is None:
            digest = digests[table] = hashlib.sha256()
        digest.update(str(fact).encode() + b"\n")
    return {table: digest.hexdigest() for table, digest in digests.items()}


def agree(target: dict[str, str], reference: dict[str, str], tables: Collection[str]) -> bool:
    """Whether ``target`` and ``reference`` (``table_digests`` of two databases) agree on
    every one of ``tables``, a table missing from both counting as agreement."""
    return all(target.get(table) == reference.get(table) for table in tables)


_EXTRAS = text(
    """
    SELECT 'enums', string_agg(quote_ident(t.typname) || ':' || coalesce((
               SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder)
               FROM pg_enum e WHERE e.enumtypid = t.oid), ''), ';' ORDER BY t.typname)
    FROM pg_type t
    WHERE t.typtype = 'e'
      AND t.typnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
    UNION ALL
    SELECT 'extensions', string_agg(extname, ',' ORDER BY extname) FROM pg_extension
    """
)


def schema_extras(connection: Connection) -> dict[str, str]:
    """Digests of what a tool may compare beyond tables: the default schema's enum types
    with their labels (Prisma's engine diffs enums whether a column uses them or not) and
    the extensions. Keyed by names no table has (a NUL first)."""
    found: dict[str, str] = {}
    for key, value in connection.execute(_EXTRAS):
        found[f"\0{key}"] = hashlib.sha256(str(value or "").encode()).hexdigest()
    return found
