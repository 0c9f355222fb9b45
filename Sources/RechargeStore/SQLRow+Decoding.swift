import Foundation
import RechargeCore
import SQLKit

extension SQLRow {
    /// Decodes a nullable column: `nil` for SQL NULL on either engine.
    func optional<T: Decodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        try decodeNil(column: column) ? nil : decode(column: column, as: T.self)
    }

    func int64(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func date(_ column: String) throws -> Date { Date(unixMicros: try int64(column)) }
}

/// The columns of `lines` a ``Line`` is made from, in one place for every query that reads a line.
enum LineRow {
    static let columns = "id, msisdn, iccid, type, status, currency, credit_limit, subscriber_id, created_at"

    static func decode(_ row: any SQLRow) throws -> Line {
        let currency = try Currency(code: try row.string("currency"))
        return Line(
            id: try row.int64("id"),
            msisdn: try MSISDN(try row.string("msisdn")),
            iccid: try row.optional("iccid", as: String.self).map { text throws(RechargeError) in try ICCID(text) },
            type: LineType(rawValue: try row.string("type")) ?? .prepaid,
            status: LineStatus(rawValue: try row.string("status")) ?? .suspended,
            currency: currency,
            creditLimit: Money(micros: try row.int64("credit_limit"), currency: currency),
            subscriberID: try row.optional("subscriber_id", as: Int64.self),
            createdAt: try row.date("created_at")
        )
    }
}

/// The columns of a bucket joined with its ledger account, whose balance is the bucket's remaining amount.
enum BucketRow {
    static let select = """
        SELECT b.id, b.line_id, b.account_id, b.kind, b.unit, b.name, b.floor, b.valid_from, b.valid_until,
               b.priority, b.is_main, a.credits_posted - a.debits_posted AS remaining
        FROM buckets b JOIN ledger_accounts a ON a.id = b.account_id
        """

    static func decode(_ row: any SQLRow) throws -> Bucket {
        Bucket(
            id: try row.int64("id"),
            lineID: try row.int64("line_id"),
            accountID: try row.int64("account_id"),
            kind: BucketKind(rawValue: try row.string("kind")) ?? .monetary,
            unit: try row.string("unit"),
            name: try row.optional("name", as: String.self),
            remaining: try row.int64("remaining"),
            floor: try row.int64("floor"),
            validFrom: try row.date("valid_from"),
            validUntil: try row.optional("valid_until", as: Int64.self).map(Date.init(unixMicros:)),
            priority: try row.decode(column: "priority", as: Int.self),
            isMain: try row.decode(column: "is_main", as: Int.self) == 1
        )
    }
}
