import Foundation

extension Migration {
    /// Migration 18: offline usage, imported from call detail record files (issue 17, docs/cdr.md).
    ///
    /// - `cdr_imports`: one row per import (a file through `recharge cdr import` or `POST /v1/cdrs`) with its counts,
    ///   so an import's summary and rejects can be looked up later.
    /// - `cdr_records`: one row per record charged, claimed by its unique `record_id` (the network's id: a record is
    ///   charged once however often it is imported). It keeps what a re-rating needs: the units paid with money, the
    ///   money due at the price it was last settled at (`due` = `charged` + `unpaid`), and the settlement's `revision`
    ///   (0 when imported, one more per re-rating that changed it), which names the ledger postings of each settlement
    ///   (``OperationPurpose/cdrCharge(recordID:revision:number:)``), so a re-rating run again posts nothing twice.
    /// - `cdr_rejects`: the rows an import did not charge, with their line numbers and reasons.
    ///
    /// IMSIs are not stored on lines: a row naming only an IMSI is rejected (docs/cdr.md).
    static let cdrImport = Migration(version: 18, name: "cdr_import") { db in
        let id = db.identityColumn
        return [
            """
            CREATE TABLE cdr_imports (
                id \(id),
                file_name TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('running', 'done')),
                rows_read BIGINT NOT NULL DEFAULT 0,
                imported BIGINT NOT NULL DEFAULT 0,
                already_imported BIGINT NOT NULL DEFAULT 0,
                rejected BIGINT NOT NULL DEFAULT 0,
                charged BIGINT NOT NULL DEFAULT 0,
                unpaid BIGINT NOT NULL DEFAULT 0,
                currency TEXT,
                created_at BIGINT NOT NULL,
                finished_at BIGINT
            )
            """,
            """
            CREATE TABLE cdr_records (
                id \(id),
                record_id TEXT NOT NULL UNIQUE,
                import_id BIGINT NOT NULL REFERENCES cdr_imports (id),
                line_id BIGINT NOT NULL REFERENCES lines (id),
                line_number BIGINT NOT NULL,
                started_at BIGINT NOT NULL,
                money_units BIGINT NOT NULL,
                bucket_units BIGINT NOT NULL,
                due BIGINT NOT NULL,
                charged BIGINT NOT NULL,
                unpaid BIGINT NOT NULL,
                revision INTEGER NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                CHECK (due = charged + unpaid AND charged >= 0 AND unpaid >= 0)
            )
            """,
            "CREATE INDEX cdr_records_started ON cdr_records (started_at, id)",
            """
            CREATE TABLE cdr_rejects (
                id \(id),
                import_id BIGINT NOT NULL REFERENCES cdr_imports (id),
                line_number BIGINT NOT NULL,
                record_id TEXT,
                code TEXT NOT NULL,
                reason TEXT NOT NULL
            )
            """,
            "CREATE INDEX cdr_rejects_import ON cdr_rejects (import_id, line_number)",
        ]
    }
}
