import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `/v1/lines…`: open and look up lines, balance inquiry, top-ups, debits and transaction history.
/// Handlers only decode and call the ledger; what they return (``LineReply``) knows its status, headers and body.
struct LinesController {
    let ledger: LedgerStore
    /// Tells which of a history's operations are test payments (orders paid through the sandbox).
    let orders: OrderStore
    let clock: @Sendable () -> Date


    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let read = group.requiring(.read)
        let write = group.requiring(.write)
        let admin = group.requiring(.admin)
        admin.post("lines", use: openLine)
        read.get("lines/{msisdn}", use: getLine)
        admin.patch("lines/{msisdn}", use: changeLine)
        read.get("lines/{msisdn}/balance", use: balance)
        write.post("lines/{msisdn}/topups", use: topUp)
        write.post("lines/{msisdn}/debits", use: debit)
        read.get("lines/{msisdn}/transactions", use: history)
    }

    @Sendable func openLine(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        let body = try await JSONBody.decode(OpenLineRequest.self, from: request, context: context)
        return .opened(try await ledger.openLine(try body.command(), now: clock()))
    }

    @Sendable func getLine(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        return .line(try await ledger.line(try context.msisdn()))
    }

    @Sendable func changeLine(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        let msisdn = try context.msisdn()
        let body = try await JSONBody.decode(ChangeLineRequest.self, from: request, context: context)
        return .line(try await ledger.changeStatus(msisdn, to: body.status, now: clock()))
    }

    @Sendable func balance(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        return .balance(try await ledger.balance(try context.msisdn(), at: clock()))
    }

    @Sendable func topUp(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        let msisdn = try context.msisdn()
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(TopUpRequest.self, from: request, context: context)
        let now = clock()
        let result = try await ledger.topUp(try body.command(msisdn: msisdn, now: now), key: key, now: now)
        return .operation(result)
    }

    @Sendable func debit(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        let msisdn = try context.msisdn()
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(DebitRequest.self, from: request, context: context)
        let result = try await ledger.debit(try body.command(msisdn: msisdn), key: key, now: clock())
        return .operation(result)
    }

    @Sendable func history(_ request: Request, context: RechargeRequestContext) async throws -> LineReply {
        let msisdn = try context.msisdn()
        let query = request.uri.queryParameters
        func date(_ name: String) throws -> Date? {
            guard let text = query.get(name) else { return nil }
            guard let date = RFC3339.parse(text) else {
                throw RechargeError.invalidRequest("Query parameter '\(name)' must be an RFC 3339 date-time such as 2026-11-01T00:00:00Z.")
            }
            return date
        }
        let from = try date("from")
        let until = try date("to")
        if let from, let until, until <= from { throw RechargeError.invalidRequest("'to' must be later than 'from'.") }
        var limit = 50
        if let text = query.get("limit") {
            guard let value = Int(text), (1...200).contains(value) else {
                throw RechargeError.invalidRequest("Query parameter 'limit' must be an integer from 1 to 200.")
            }
            limit = value
        }
        let cursor = try query.get("cursor").map { text throws(RechargeError) in try Cursor.decode(text) }
        let page = try await ledger.history(msisdn, from: from, until: until, before: cursor, limit: limit)
        // A test payment is marked wherever it is listed; only a page with order-paid top-ups asks which those are.
        let testPayments = page.operations.contains { $0.reference != nil && $0.kind == .topUp }
            ? try await orders.testPaymentOrderIDs(msisdn: msisdn) : []
        return .history(HistoryOutput(
            items: page.operations.map { OperationOutput($0, testPayment: $0.reference.map(testPayments.contains) ?? false) },
            nextCursor: page.nextCursor.map(Cursor.encode)))
    }
}

/// What `/v1/lines…` answers. The handler says what happened; the reply decides the status and headers, so the
/// rules (a new line is `201` with its `Location`, a retried write is marked replayed) are written once.
enum LineReply: ResponseGenerator {
    /// A new line: `201` and where it lives.
    case opened(Line)
    case line(Line)
    /// Written by hand (``BalanceOutput``'s `JSONWritable`): balance inquiries are the hottest read.
    case balance(BalanceSummary)
    /// A top-up or debit: `201`, with `Idempotent-Replayed: true` when it answers a retry with the first result.
    case operation(LedgerResult)
    case history(HistoryOutput)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .opened(let line):
            var response = try JSONResponse.make(LineOutput(line), status: .created)
            response.headers[.location] = "/v1/lines/\(line.msisdn.e164)"
            return response
        case .line(let line):
            return try JSONResponse.make(LineOutput(line))
        case .balance(let summary):
            return try JSONResponse.make(BalanceOutput(summary))
        case .operation(let result):
            var response = try JSONResponse.make(OperationOutput(result.operation), status: .created)
            response.markReplayed(result.replayed)
            return response
        case .history(let page):
            return try JSONResponse.make(page)
        }
    }
}
