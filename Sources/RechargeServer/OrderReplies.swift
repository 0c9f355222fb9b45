import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import RechargeCore
import RechargeStore

/// What the catalog and order routes answer. ``OrdersController``'s handlers say what happened; the reply decides
/// status and headers (a placed order is `201` with its `Location`, a retried placement is marked replayed), so each
/// rule is written once and the bodies stay the API models' bytes.
enum OrderReply: ResponseGenerator {
    case catalog(CatalogDefinition)
    case quote(QuoteOutput)
    /// `201`, `Location: /v1/orders/{id}`, and `Idempotent-Replayed: true` when it answers a retry.
    case placed(RechargeOrder, checkout: CheckoutOutput?, replayed: Bool)
    case order(OrderOutput)
    case orders(OrderListOutput)
    case receipt(ReceiptOutput)
    /// The printable receipt (``ReceiptPage``), for a client that asked for `text/html`.
    case receiptPage(String)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .catalog(let definition):
            return try JSONResponse.make(definition)
        case .quote(let quote):
            return try JSONResponse.make(quote)
        case .placed(let order, let checkout, let replayed):
            var response = try JSONResponse.make(OrderOutput(order, checkout: checkout), status: .created)
            response.headers[.location] = "/v1/orders/\(order.id)"
            response.markReplayed(replayed)
            return response
        case .order(let order):
            return try JSONResponse.make(order)
        case .orders(let list):
            return try JSONResponse.make(list)
        case .receipt(let receipt):
            return try JSONResponse.make(receipt)
        case .receiptPage(let html):
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
    }
}

/// What the refund routes answer: a started refund is `201`, marked replayed when it answers a retry.
enum RefundReply: ResponseGenerator {
    case started(OrderRefund, replayed: Bool)
    case list(RefundListOutput)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .started(let refund, let replayed):
            var response = try JSONResponse.make(RefundOutput(refund), status: .created)
            response.markReplayed(replayed)
            return response
        case .list(let list):
            return try JSONResponse.make(list)
        }
    }
}

/// What the renewal routes answer: the line's renewals, or the one just cancelled.
enum RenewalReply: ResponseGenerator {
    case list(RenewalListOutput)
    case renewal(RenewalOutput)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .list(let list): try JSONResponse.make(list)
        case .renewal(let renewal): try JSONResponse.make(renewal)
        }
    }
}

/// What the bank-transfer routes answer. Both bodies are written by hand (no output model): an import's counts,
/// and the entries an operator has to look at.
enum BankReply: ResponseGenerator {
    /// How many statements were read and what became of their entries.
    case imported(statements: Int, BankStatementImport.Summary)
    case review([BankReviewItem])

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let json: JSONWriter
        switch self {
        case .imported(let statements, let total): json = Self.imported(statements: statements, total)
        case .review(let items): json = Self.review(items)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    private static func imported(statements: Int, _ total: BankStatementImport.Summary) -> JSONWriter {
        var json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("statements", statements)
            json.field("credits", total.credits)
            json.field("paid", total.paid)
            json.field("alreadyApplied", total.alreadyApplied)
            json.field("toReview", total.toReview)
            json.field("debitsIgnored", total.debitsIgnored)
        }
        return json
    }

    private static func review(_ items: [BankReviewItem]) -> JSONWriter {
        var json = JSONWriter(capacity: 256 * max(1, items.count))
        json.object { json in
            json.key("items")
            json.array(items) { json, item in
                json.object { json in
                    json.field("id", item.id)
                    json.field("account", item.account)
                    json.field("entryReference", item.entryReference)
                    json.field("outcome", item.outcome)
                    json.field("order", item.orderID)
                    json.field("amount", item.amount.decimalString)
                    json.field("currency", item.amount.currency.code)
                    json.field("bookingDate", item.bookingDate)
                    json.field("debtor", item.debtor)
                    json.field("remittance", item.remittance)
                }
            }
        }
        return json
    }
}
