import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RechargeCore
@testable import RechargeServer
import Testing

/// The typed outputs the API handlers return, turned into responses without a server: the status and headers each
/// one owns (Location, Idempotent-Replayed, Retry-After) and its body. The API suites check the same through HTTP;
/// these pin the cases a happy-path request does not reach (a replayed placement, a lock-out's Retry-After).
@Suite("Handler replies")
struct ReplyTests {
    /// All a reply may read is the request; the context only has to exist.
    struct LoggerSource: RequestContextSource { let logger = Logger(label: "reply-tests") }
    struct Context: RequestContext {
        typealias Source = LoggerSource
        var coreContext: CoreRequestContextStorage
        init(source: LoggerSource) { coreContext = .init(source: source) }
    }

    /// Collects a response body; a class because `finish` consumes the writer.
    final class Collected { var buffer = ByteBuffer() }
    struct Collector: ResponseBodyWriter {
        let into: Collected
        mutating func write(_ buffer: ByteBuffer) async throws { var buffer = buffer; into.buffer.writeBuffer(&buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
    }

    static let now = Date(timeIntervalSince1970: 1_795_000_000)
    static let msisdn = try! MSISDN("+14155550100")
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    static func answer(_ reply: some ResponseGenerator, path: String = "/v1/x") async throws -> (Response, String) {
        let request = Request(head: HTTPRequest(method: .post, scheme: "http", authority: "localhost", path: path), body: .init(buffer: ByteBuffer()))
        let response = try reply.response(from: request, context: Context(source: LoggerSource()))
        let collected = Collected()
        try await response.body.write(Collector(into: collected))
        return (response, String(buffer: collected.buffer))
    }

    @Test func healthSaysWhenToComeBack() async throws {
        let (ok, okBody) = try await Self.answer(HealthReply.ok)
        #expect(ok.status == .ok && ok.headers[.retryAfter] == nil && okBody == #"{"database":"ok","status":"ok"}"#)
        let (down, downBody) = try await Self.answer(HealthReply.databaseUnreachable)
        #expect(down.status == .serviceUnavailable && down.headers[.retryAfter] == "1")
        #expect(downBody == #"{"database":"unreachable","status":"unavailable"}"#)
    }

    @Test func openedLineSaysWhereItLives() async throws {
        let line = Line(id: 1, msisdn: Self.msisdn, iccid: nil, type: .prepaid, status: .active, currency: .usd,
                        creditLimit: try Money(decimal: "0", currency: .usd), subscriberID: nil, createdAt: Self.now)
        let (opened, body) = try await Self.answer(LineReply.opened(line))
        #expect(opened.status == .created && opened.headers[.location] == "/v1/lines/+14155550100")
        #expect(opened.headers[.contentType] == "application/json" && body.contains(#""msisdn":"+14155550100""#))
        let (read, _) = try await Self.answer(LineReply.line(line))
        #expect(read.status == .ok && read.headers[.location] == nil)
    }

    @Test func placedOrderIsCreatedAndMarkedWhenReplayed() async throws {
        let catalog = try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "5", max: "500")], products: []))
        let quote = try OrderQuote.customTopUp(try Money(decimal: "10", currency: .usd), catalog: catalog, lineCurrency: .usd)
        let order = RechargeOrder(id: "ord_abcdefghijkmnpqrstuvwxyz23", msisdn: Self.msisdn, quote: quote, paymentMethod: .sandbox,
                                  state: .awaitingPayment, providerReference: nil, failureReason: nil, operationIDs: [], createdAt: Self.now,
                                  updatedAt: Self.now, expiresAt: Self.now, paidAt: nil, fulfilledAt: nil, balanceAfter: nil)
        let (first, firstBody) = try await Self.answer(OrderReply.placed(order, checkout: nil, replayed: false))
        #expect(first.status == .created && first.headers[.location] == "/v1/orders/\(order.id)" && first.headers[Self.replayed] == nil)
        let (retry, retryBody) = try await Self.answer(OrderReply.placed(order, checkout: nil, replayed: true))
        #expect(retry.status == .created && retry.headers[Self.replayed] == "true" && retryBody == firstBody)
    }

    @Test func voucherRefusalsAreProblemsAndLockOutsSayWhenToRetry() async throws {
        let until = Self.now.addingTimeInterval(1.2)
        let (locked, body) = try await Self.answer(VoucherReply.refused(.lockedOut(subject: "pin", until: until), now: Self.now),
                                                   path: "/v1/lines/+14155550100/voucher-redemptions")
        #expect(locked.status == .tooManyRequests && locked.headers[.retryAfter] == "2")
        #expect(locked.headers[.contentType] == "application/problem+json" && body.contains(#""instance":"/v1/lines/+14155550100/voucher-redemptions""#))
        let (invalid, _) = try await Self.answer(VoucherReply.refused(.invalidPIN, now: Self.now))
        #expect(invalid.status == .unprocessableContent && invalid.headers[.retryAfter] == nil)
        let (pending, pendingBody) = try await Self.answer(VoucherReply.pendingApproval(7, cards: 3, value: try Money(decimal: "30", currency: .usd)))
        #expect(pending.status == .accepted && pendingBody.contains(#""approvalId":7"#) && pendingBody.contains(#""state":"pending_approval""#))
    }

    /// The printable receipt (``ReceiptPage``): its words come from the locale files in both languages, the test-payment
    /// notice comes first, only the rows with a value are shown, in order, and every value is escaped.
    @Test func printableReceiptSpeaksTheLocaleAndEscapesValues() async throws {
        let catalog = try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "5", max: "500")], products: []))
        let quote = try OrderQuote.customTopUp(try Money(decimal: "10", currency: .usd), catalog: catalog, lineCurrency: .usd)
        let order = RechargeOrder(id: "ord_abcdefghijkmnpqrstuvwxyz23", msisdn: Self.msisdn, quote: quote, paymentMethod: .sandbox,
                                  state: .fulfilled, providerReference: "<b>&ref</b>", failureReason: nil, operationIDs: [], createdAt: Self.now,
                                  updatedAt: Self.now, expiresAt: Self.now, paidAt: Self.now, fulfilledAt: Self.now, balanceAfter: nil)
        let resources = try PortalResources.bundled()
        let page = ReceiptPage(resources: resources)
        let (reply, body) = try await Self.answer(OrderReply.receiptPage(page.html(ReceiptOutput(order), language: .simplifiedChinese)))
        #expect(reply.status == .ok && reply.headers[.contentType] == "text/html; charset=utf-8")
        #expect(body.contains(#"<html lang="zh-Hans">"#) && body.contains("<h1>充值收据</h1>") && body.contains(">支付参考号</th>") && body.contains(">打印</button>"))
        #expect(body.contains("<strong>测试支付：未收取任何真实款项。</strong>") && body.contains("sandbox (测试支付)"))
        let english = page.html(ReceiptOutput(order), language: .english)
        #expect(english.contains(#"<html lang="en">"#) && english.contains("<h1>Recharge receipt</h1>") && english.contains(">Payment reference</th>"))
        for (html, language) in [(body, NotificationLanguage.simplifiedChinese), (english, .english)] {
            for key in ["receipt_title", "receipt_number", "receipt_paid", "print", "order_receipt_test_payment"] {
                #expect(html.contains(resources.strings.text(key, language)), "\(language) \(key)")
            }
            #expect(html.contains("<td>&lt;b&gt;&amp;ref&lt;/b&gt;</td>") && !html.contains("<b>&ref"))
            let notice = try #require(html.range(of: "id=\"test-payment\"")), table = try #require(html.range(of: "<table>"))
            #expect(notice.lowerBound < table.lowerBound)
        }
        let locale = PortalLocale(strings: resources.strings, language: .english)
        #expect(ReceiptPage.view(ReceiptOutput(order), locale).rows.map(\.label) == [
            "Receipt number", "Order", "Phone number", "Item", "Paid with", "Payment reference", "Amount paid", "Credited", "Paid at", "Status",
        ])
    }
}
