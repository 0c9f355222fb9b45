import Foundation
import Hummingbird
import RechargeCore
import RechargeOrders
import RechargeStore

/// The signed-in history pages: filters, each operation's receipt, and the CSV download. Every line and operation
/// is checked to be the account's own first.
extension PortalController {
    struct HistoryFilter {
        let line: MSISDN
        let from: Date?
        let until: Date?
        let type: LedgerOperation.Kind?
        let fromText: String
        let toText: String
        let typeText: String

        var query: String {
            "line=\(PortalForm.encode(line.e164))&from=\(fromText)&to=\(toText)&type=\(typeText)"
        }
    }

    func historyFilter(_ request: Request, _ account: Account) async throws -> HistoryFilter {
        let query = request.uri.queryParameters
        let line = try await ownedLine(query.get("line"), account)
        func day(_ name: String) throws -> (Date?, String) {
            guard let text = query.get(name), !text.isEmpty else { return (nil, "") }
            guard text.utf8.count == 10, let date = try? Date(text + "T00:00:00Z", strategy: .iso8601) else {
                throw PortalRefusal(status: .badRequest, key: "error_date")
            }
            return (date, text)
        }
        let (from, fromText) = try day("from")
        let (to, toText) = try day("to")
        let typeText = query.get("type") ?? "all"
        let type: LedgerOperation.Kind?
        switch typeText {
        case "", "all": type = nil
        case let text: guard let kind = LedgerOperation.Kind(rawValue: text) else { throw PortalRefusal(status: .badRequest, key: "error_generic") }; type = kind
        }
        // "to" is a whole day: everything before the next midnight.
        return HistoryFilter(line: line, from: from, until: to?.addingTimeInterval(86_400), type: type, fromText: fromText, toText: toText,
                             typeText: type?.rawValue ?? "all")
    }

    /// Up to 1,000 operations matching the filter, newest first.
    func operations(_ filter: HistoryFilter) async throws -> [LedgerOperation] {
        var result: [LedgerOperation] = []
        var cursor: Int64?
        repeat {
            let page = try await services.ledger.history(filter.line, from: filter.from, until: filter.until, before: cursor, limit: 200)
            result += page.operations.filter { filter.type == nil || $0.kind == filter.type }
            cursor = page.nextCursor
        } while cursor != nil && result.count < 1000
        return result
    }

    @Sendable func historyPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let filter = try await historyFilter(request, account)
        let testPayments = try await services.orders.testPaymentOrderIDs(msisdn: filter.line)
        var view = HistoryView.make(lines: try await accounts.lines(accountID: account.id), filter: filter, operations: try await operations(filter),
                                    testPayments: testPayments, locale(visitor))
        let usage = try await services.charging.usage(filter.line, from: filter.from, until: filter.until, before: nil, limit: 100).items
        view.usage = HistoryView.usage(usage, locale(visitor))
        view.hasUsage = !usage.isEmpty
        return page("history", visitor, title: "history_title", model: view)
    }

    /// One row per entry (an operation that touched several buckets has several rows), RFC 4180 quoting.
    @Sendable func historyCSV(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let filter = try await historyFilter(request, account)
        // test_payment last: a column added later must not shift the ones spreadsheets already read.
        var csv = "operation,time,type,channel,reference,line,bucket_kind,unit,amount,remaining_after,test_payment\r\n"
        let testPayments = try await services.orders.testPaymentOrderIDs(msisdn: filter.line)
        func field(_ text: String) -> String {
            // A leading = + - @ would be a formula in a spreadsheet: quoted and prefixed with an apostrophe.
            let safe = text.first.map { "=+-@".contains($0) && Int64(text) == nil && Double(text) == nil } == true ? "'" + text : text
            return safe.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + safe.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : safe
        }
        for operation in try await operations(filter) {
            for entry in operation.entries {
                let amount: String
                let remaining: String
                if entry.bucketKind == .monetary, let currency = try? Currency(code: entry.unit) {
                    amount = Money(micros: entry.amount, currency: currency).decimalString
                    remaining = Money(micros: entry.remainingAfter, currency: currency).decimalString
                } else {
                    amount = String(entry.amount)
                    remaining = String(entry.remainingAfter)
                }
                csv += [String(operation.id), Date.ISO8601FormatStyle().format(operation.createdAt), operation.kind.rawValue, operation.channel.rawValue,
                        operation.reference ?? "", filter.line.e164, entry.bucketKind.rawValue, entry.unit, amount, remaining,
                        operation.reference.map(testPayments.contains) == true ? "true" : "false"].map(field).joined(separator: ",") + "\r\n"
            }
        }
        let name = "recharge-history-\(filter.line.e164.dropFirst())-\(Self.day(clock())).csv"
        var headers = Self.pageHeaders(contentType: "text/csv; charset=utf-8")
        headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: csv)))
    }

    @Sendable func operationReceipt(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let line = try await ownedLine(request.uri.queryParameters.get("line"), account)
        guard let id = Int64(request.pathSegment(fromEnd: 1)), id > 0, id < Int64.max else { throw PortalRefusal.notFound }
        let found = try await services.ledger.history(line, from: nil, until: nil, before: id + 1, limit: 1).operations.first
        guard let operation = found, operation.id == id else { throw PortalRefusal.notFound }
        let testPayments = try await services.orders.testPaymentOrderIDs(msisdn: line)
        var orderReceipt: String?
        if let reference = operation.reference, reference.hasPrefix("ord_"),
           let order = try? await services.orders.order(reference), [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) {
            orderReceipt = "/orders/\(order.id)/receipt"
        }
        let view = ReceiptView.transaction(operation, line: line, testPayments: testPayments, orderReceipt: orderReceipt, locale(visitor))
        return page("receipt", visitor, title: "receipt_transaction_title", model: view)
    }
}
