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
    static let columns = "id, msisdn, iccid, type, status, currency, credit_limit, subscriber_id, created_at, barred_at"
    /// The same columns of `lines l`, for queries that join it.
    static let qualifiedColumns = columns.split(separator: ", ").map { "l.\($0)" }.joined(separator: ", ")

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
            createdAt: try row.date("created_at"),
            barredAt: try row.optional("barred_at", as: Int64.self).map(Date.init(unixMicros:))
        )
    }
}

/// The columns of a bucket joined with its ledger account, whose balance is the bucket's remaining amount.
/// Aliased (`bucket_…`) so they can stand beside a line's columns in one query.
enum BucketRow {
    static let columns = """
        b.id AS bucket_id, b.line_id AS bucket_line_id, b.account_id AS bucket_account_id, b.kind AS bucket_kind,
        b.unit AS bucket_unit, b.name AS bucket_name, b.floor AS bucket_floor, b.valid_from AS bucket_valid_from,
        b.valid_until AS bucket_valid_until, b.priority AS bucket_priority, b.is_main AS bucket_is_main,
        a.credits_posted - a.debits_posted AS bucket_remaining, a.debits_pending AS bucket_pending,
        b.coverage AS bucket_coverage, b.services AS bucket_services
        """
    static let select = "SELECT \(columns) FROM buckets b JOIN ledger_accounts a ON a.id = b.account_id"

    static func decode(_ row: any SQLRow) throws -> Bucket {
        Bucket(
            id: try row.int64("bucket_id"),
            lineID: try row.int64("bucket_line_id"),
            accountID: try row.int64("bucket_account_id"),
            kind: BucketKind(rawValue: try row.string("bucket_kind")) ?? .monetary,
            unit: try row.string("bucket_unit"),
            name: try row.optional("bucket_name", as: String.self),
            remaining: try row.int64("bucket_remaining"),
            floor: try row.int64("bucket_floor"),
            validFrom: try row.date("bucket_valid_from"),
            validUntil: try row.optional("bucket_valid_until", as: Int64.self).map(Date.init(unixMicros:)),
            priority: try row.decode(column: "bucket_priority", as: Int.self),
            isMain: try row.decode(column: "bucket_is_main", as: Int.self) == 1,
            pending: try row.int64("bucket_pending"),
            coverage: try row.optional("bucket_coverage", as: String.self).map(Self.set),
            services: try row.optional("bucket_services", as: String.self).map(Self.set)
        )
    }

    /// A comma-separated column (`JP,KR`) as a set.
    static func set(_ text: String) -> Set<String> { Set(text.split(separator: ",").map(String.init)) }

    /// A set as its comma-separated column, sorted so equal sets are stored alike.
    static func column(_ set: Set<String>?) -> String? { set.map { $0.sorted().joined(separator: ",") }
    }
}
