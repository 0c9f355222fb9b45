import Foundation

extension Migration {
    /// Migration 12: why each operation exists, in typed columns (``OperationPurpose``), so nothing needs to read
    /// meaning out of an idempotency key again. New rows get them from the request that made them (`LedgerBatch`);
    /// this backfills the rows written before, once, from the keys the server built for its own operations
    /// (`order:<id>:…`, `refund:<id>…`, `dispute:<id>:…`, `voucher:<serial>…`, `renewal:<id>:<cycle>:…`).
    /// This is the one place that reads a key, and only to describe history: a key matches only when the order,
    /// refund, dispute, card or renewal it names exists, so a client's key that happens to look alike stays a
    /// client's `top_up` or `debit`.
    static let operationPurposes = Migration(version: 12, name: "operation_purposes") { db in
        let find = db.dialect == .sqlite ? "instr" : "strpos"
        func digits(_ text: String) -> String {
            db.dialect == .sqlite ? "(\(text) <> '' AND \(text) NOT GLOB '*[^0-9]*')" : "(\(text) ~ '^[0-9]+$')"
        }
        /// The allowance number after `:grant:` (NULL unless it is all digits; the CASE keeps PostgreSQL from casting anything else).
        func grantNumber(after start: String) -> String {
            let text = "substr(idempotency_key, \(start))"
            return "CASE WHEN \(digits(text)) THEN CAST(\(text) AS INTEGER) END"
        }
        let grantAt = "\(find)(idempotency_key, ':grant:') + 7"
        return [
            "ALTER TABLE operations ADD COLUMN purpose TEXT",
            "ALTER TABLE operations ADD COLUMN order_id TEXT",
            "ALTER TABLE operations ADD COLUMN refund_id TEXT",
            // A dispute's id, a card's serial or a renewal's id.
            "ALTER TABLE operations ADD COLUMN subject_id TEXT",
            // Which allowance (from 1) of a pack a grant or its refund is.
            "ALTER TABLE operations ADD COLUMN grant_number INTEGER",
            // Everything is a client's top-up or debit unless recognised below.
            "UPDATE operations SET purpose = CASE kind WHEN 'top_up' THEN 'top_up' ELSE 'debit' END",
            // order:<28-character order id>:credit|bonus|pay|buy|grant:N
            """
            UPDATE operations SET order_id = substr(idempotency_key, 7, 28),
                purpose = CASE substr(idempotency_key, 35) WHEN ':credit' THEN 'order_credit' WHEN ':bonus' THEN 'order_bonus'
                               WHEN ':pay' THEN 'order_payment' WHEN ':buy' THEN 'order_purchase' ELSE 'order_grant' END,
                grant_number = CASE WHEN substr(idempotency_key, 35, 7) = ':grant:' THEN \(grantNumber(after: "42")) END
            WHERE idempotency_key LIKE 'order:%' AND substr(idempotency_key, 7, 28) IN (SELECT id FROM orders)
              AND (substr(idempotency_key, 35) IN (':credit', ':bonus', ':pay', ':buy')
                   OR (substr(idempotency_key, 35, 7) = ':grant:' AND \(digits("substr(idempotency_key, 42)"))))
            """,
            // refund:<27-character refund id>[:unbuy|:grant:N]
            """
            UPDATE operations SET refund_id = substr(idempotency_key, 8, 27),
                order_id = (SELECT r.order_id FROM refunds r WHERE r.id = substr(operations.idempotency_key, 8, 27)),
                purpose = CASE substr(idempotency_key, 35) WHEN '' THEN 'refund' WHEN ':unbuy' THEN 'refund_unbuy' ELSE 'refund_grant' END,
                grant_number = CASE WHEN substr(idempotency_key, 35, 7) = ':grant:' THEN \(grantNumber(after: "42")) END
            WHERE idempotency_key LIKE 'refund:%' AND substr(idempotency_key, 8, 27) IN (SELECT id FROM refunds)
              AND (length(idempotency_key) = 34 OR substr(idempotency_key, 35) = ':unbuy'
                   OR (substr(idempotency_key, 35, 7) = ':grant:' AND \(digits("substr(idempotency_key, 42)"))))
            """,
            // dispute:<provider's dispute id>:hold|release
            """
            UPDATE operations SET purpose = 'dispute_hold', subject_id = substr(idempotency_key, 9, length(idempotency_key) - 13),
                order_id = (SELECT d.order_id FROM disputes d
                            WHERE d.id = substr(operations.idempotency_key, 9, length(operations.idempotency_key) - 13))
            WHERE idempotency_key LIKE 'dispute:%:hold'
              AND substr(idempotency_key, 9, length(idempotency_key) - 13) IN (SELECT id FROM disputes)
            """,
            """
            UPDATE operations SET purpose = 'dispute_release', subject_id = substr(idempotency_key, 9, length(idempotency_key) - 16),
                order_id = (SELECT d.order_id FROM disputes d
                            WHERE d.id = substr(operations.idempotency_key, 9, length(operations.idempotency_key) - 16))
            WHERE idempotency_key LIKE 'dispute:%:release'
              AND substr(idempotency_key, 9, length(idempotency_key) - 16) IN (SELECT id FROM disputes)
            """,
            // voucher:<serial>[:pay|:buy|:grant:N]
            """
            UPDATE operations SET purpose = 'voucher_redemption', subject_id = substr(idempotency_key, 9)
            WHERE idempotency_key LIKE 'voucher:%' AND substr(idempotency_key, 9) IN (SELECT CAST(serial AS TEXT) FROM vouchers)
            """,
            """
            UPDATE operations SET purpose = CASE WHEN idempotency_key LIKE '%:pay' THEN 'voucher_payment' ELSE 'voucher_purchase' END,
                subject_id = substr(idempotency_key, 9, length(idempotency_key) - 12)
            WHERE (idempotency_key LIKE 'voucher:%:pay' OR idempotency_key LIKE 'voucher:%:buy')
              AND substr(idempotency_key, 9, length(idempotency_key) - 12) IN (SELECT CAST(serial AS TEXT) FROM vouchers)
            """,
            """
            UPDATE operations SET purpose = 'voucher_grant',
                subject_id = substr(idempotency_key, 9, \(find)(idempotency_key, ':grant:') - 9), grant_number = \(grantNumber(after: grantAt))
            WHERE idempotency_key LIKE 'voucher:%:grant:%'
              AND substr(idempotency_key, 9, \(find)(idempotency_key, ':grant:') - 9) IN (SELECT CAST(serial AS TEXT) FROM vouchers)
            """,
            // renewal:<27-character renewal id>:<cycle>:buy|grant:N
            """
            UPDATE operations SET subject_id = substr(idempotency_key, 9, 27),
                purpose = CASE WHEN idempotency_key LIKE '%:buy' THEN 'renewal_purchase' ELSE 'renewal_grant' END,
                grant_number = CASE WHEN idempotency_key LIKE '%:grant:%' THEN \(grantNumber(after: grantAt)) END
            WHERE (idempotency_key LIKE 'renewal:%:buy' OR idempotency_key LIKE 'renewal:%:grant:%')
              AND substr(idempotency_key, 9, 27) IN (SELECT id FROM pack_renewals)
            """,
            // A refund finds the buckets its order granted by these columns.
            "CREATE INDEX operations_by_order ON operations (order_id, purpose, grant_number) WHERE order_id IS NOT NULL",
        ]
    }
}
