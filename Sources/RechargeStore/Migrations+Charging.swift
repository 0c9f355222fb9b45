import Foundation

extension Migration {
    /// Migration 17: online charging (issue 17).
    ///
    /// - `ledger_accounts.debits_pending`: what live sessions hold reserved of an account, TigerBeetle's pending
    ///   debits. A bucket's spendable amount is `credits_posted − debits_posted − debits_pending` down to its floor;
    ///   `recharge audit` checks it equals the account's pending `reservations`.
    /// - `buckets.coverage` / `buckets.services`: where (countries) and for what (service ids) an allowance may be
    ///   drawn, comma-separated; NULL: at home, for its own unit's service.
    /// - `lines.barred_at`: money ran out and chargeable use stopped; cleared by the next credit.
    /// - `charging_sessions`: one row per session and service (a Diameter session's rating groups are rows of their
    ///   own), with the running totals rating is cumulative over.
    /// - `reservations`: the pending transfers: held, then settled (what was used is posted as ledger debits and the
    ///   rest voided) or expired by the sweep after validity plus grace.
    /// - `charging_requests`: the answer to each (session id, request number), so a retransmitted request gets the
    ///   same answer and changes nothing.
    /// - `usage_records`: rated usage, itemized (one row per session service or imported record): what history, the
    ///   portal and a postpaid bill list.
    /// - `charging_reauths`: sessions to tell that service may resume (Diameter RAR, or an HTTP callback) after a
    ///   credit cleared the bar; written in the credit's own transaction, sent by the re-auth service.
    static let charging = Migration(version: 17, name: "charging") { db in
        let id = db.identityColumn
        return [
            "ALTER TABLE ledger_accounts ADD COLUMN debits_pending BIGINT NOT NULL DEFAULT 0 CHECK (debits_pending >= 0)",
            "ALTER TABLE buckets ADD COLUMN coverage TEXT",
            "ALTER TABLE buckets ADD COLUMN services TEXT",
            "ALTER TABLE lines ADD COLUMN barred_at BIGINT",
            """
            CREATE TABLE charging_sessions (
                id \(id),
                session_id TEXT NOT NULL,
                service_key TEXT NOT NULL,
                line_id BIGINT NOT NULL REFERENCES lines (id),
                interface TEXT NOT NULL CHECK (interface IN ('diameter', 'http')),
                peer TEXT,
                service TEXT NOT NULL,
                destination TEXT,
                visited_country TEXT,
                visited_network TEXT,
                started_at BIGINT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'expired')),
                used_units BIGINT NOT NULL DEFAULT 0,
                bucket_units BIGINT NOT NULL DEFAULT 0,
                money_units BIGINT NOT NULL DEFAULT 0,
                charged BIGINT NOT NULL DEFAULT 0,
                unpaid BIGINT NOT NULL DEFAULT 0,
                last_request_number BIGINT NOT NULL,
                final_unit INTEGER NOT NULL DEFAULT 0,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                UNIQUE (session_id, service_key)
            )
            """,
            "CREATE INDEX charging_sessions_line ON charging_sessions (line_id, state)",
            "CREATE INDEX charging_sessions_expiry ON charging_sessions (state, expires_at)",
            """
            CREATE TABLE reservations (
                id \(id),
                charging_session_id BIGINT NOT NULL REFERENCES charging_sessions (id),
                line_id BIGINT NOT NULL REFERENCES lines (id),
                bucket_id BIGINT NOT NULL REFERENCES buckets (id),
                account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
                amount BIGINT NOT NULL CHECK (amount > 0),
                state TEXT NOT NULL CHECK (state IN ('pending', 'settled', 'expired')),
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                resolved_at BIGINT
            )
            """,
            "CREATE INDEX reservations_session ON reservations (charging_session_id, state)",
            "CREATE INDEX reservations_expiry ON reservations (state, expires_at)",
            """
            CREATE TABLE charging_requests (
                id \(id),
                session_id TEXT NOT NULL,
                request_number BIGINT NOT NULL,
                fingerprint TEXT NOT NULL,
                answer TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                UNIQUE (session_id, request_number)
            )
            """,
            """
            CREATE TABLE usage_records (
                id \(id),
                line_id BIGINT NOT NULL REFERENCES lines (id),
                source TEXT NOT NULL CHECK (source IN ('session', 'cdr')),
                source_id TEXT NOT NULL,
                service TEXT NOT NULL,
                destination TEXT,
                visited_country TEXT,
                visited_network TEXT,
                started_at BIGINT NOT NULL,
                units BIGINT NOT NULL,
                bucket_units BIGINT NOT NULL,
                billed_units BIGINT NOT NULL,
                charge BIGINT NOT NULL,
                unpaid BIGINT NOT NULL DEFAULT 0,
                currency TEXT NOT NULL,
                tariff TEXT,
                free INTEGER NOT NULL DEFAULT 0,
                explanation TEXT,
                updated_at BIGINT NOT NULL,
                UNIQUE (source, source_id)
            )
            """,
            "CREATE INDEX usage_records_line ON usage_records (line_id, started_at)",
            """
            CREATE TABLE charging_reauths (
                id \(id),
                charging_session_id BIGINT NOT NULL REFERENCES charging_sessions (id),
                interface TEXT NOT NULL,
                peer TEXT,
                session_id TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                result TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX charging_reauths_pending ON charging_reauths (state, id)",
        ]
    }
}
