import Foundation
import RechargeCore
import SQLKit

extension SQLQueryString {
    /// `(?, ?, …), (?, ?, …)` for a multi-row `VALUES`: every batch writer's inserts and `WITH … AS (VALUES …)` updates.
    static func rows(_ rows: some Collection<[any Encodable & Sendable]>) -> SQLQueryString {
        var sql: SQLQueryString = ""
        for (index, row) in rows.enumerated() {
            sql += index == 0 ? "(" : ", ("
            sql += "\(binds: row))"
        }
        return sql
    }
}

/// One itemized use in `usage_records`, as the charging batch (a session service) and the CDR import (a record) write it.
struct UsageRecordRow {
    let lineID: Int64
    /// `session` or `cdr`.
    let source: String
    let sourceID: String
    let use: ChargedUse
    let units: Int64
    let bucketUnits: Int64
    let rated: RatedUsage?
    let charge: Int64
    let unpaid: Int64
    let currency: String
    let updatedAt: Date

    /// Followed by `SQLQueryString.rows` of ``values``.
    static let insert: SQLQueryString = """
        INSERT INTO usage_records (line_id, source, source_id, service, destination, visited_country, visited_network, started_at, units,
            bucket_units, billed_units, charge, unpaid, currency, tariff, free, explanation, updated_at) VALUES
        """

    var values: [any Encodable & Sendable] {
        [lineID, source, sourceID, use.service.id, use.destination, use.visitedCountry, use.visitedNetwork, use.start.unixMicros, units,
         bucketUnits, rated?.billedUnits ?? 0, charge, unpaid, currency, rated?.tariff, rated?.free == true ? 1 : 0, rated?.explanation,
         updatedAt.unixMicros]
    }
}
