import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `/v1/lines…`: open and look up lines, balance inquiry, top-ups, debits and transaction history.
/// Handlers only decode, check the scope, call the ledger and encode.
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

    @Sendable func openLine(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(OpenLineRequest.self, from: request, context: context)
        let line = try await ledger.openLine(try body.command(), now: clock())
        var response = try JSONResponse.make(LineOutput(line), status: .created)
        response.headers[.location] = "/v1/lines/\(line.msisdn.e164)"
        return response
    }

    @Sendable func getLine(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        return try JSONResponse.make(LineOutput(try await ledger.line(try context.msisdn())))
    }

    @Sendable func changeLine(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let msisdn = try context.msisdn()
        let body = try await JSONBody.decode(ChangeLineRequest.self, from: request, context: context)
        return try JSONResponse.make(LineOutput(try await ledger.changeStatus(msisdn, to: body.status, now: clock())))
    }

    @Sendable func balance(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        return try JSONResponse.make(BalanceOutput(try await ledger.balance(try context.msisdn(), at: clock())))
    }

    @Sendable func topUp(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let msisdn = try context.msisdn()
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(TopUpRequest.self, from: request, context: context)
        let now = clock()
        let result = try await ledger.topUp(try body.command(msisdn: msisdn, now: now), key: key, now: now)
        return try operationResponse(result)
    }

    @Sendable func debit(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let msisdn = try context.msisdn()
        let key = try request.idempotencyKey()
        let body = try await JSONBody.decode(DebitRequest.self, from: request, context: context)
        let result = try await ledger.debit(try body.command(msisdn: msisdn), key: key, now: clock())
        return try operationResponse(result)
    }

    @Sendable func history(_ request: Request, context: RechargeRequestContext) async throws -> Response {
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
        return try JSONResponse.make(HistoryOutput(
            items: page.operations.map { OperationOutput($0, testPayment: $0.reference.map(testPayments.contains) ?? false) },
            nextCursor: page.nextCursor.map(Cursor.encode)))
    }

    private func operationResponse(_ result: LedgerResult) throws -> Response {
        var response = try JSONResponse.make(OperationOutput(result.operation), status: .created)
        response.markReplayed(result.replayed)
        return response
    }
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The same bytes as the `Encodable` path, written by hand: top-up and balance responses.
    static func make(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) throws -> Response {
        var json = JSONWriter(capacity: 768)
        value.write(to: &json)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
