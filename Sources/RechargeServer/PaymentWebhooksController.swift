import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import RechargeCore
import RechargeOrders
import RechargePayments
import RechargeStore

/// Payment notifications (`POST /webhooks/{provider}`) and the sandbox provider's hosted checkout page
/// (`/sandbox/checkout/{id}`; it and `/webhooks/sandbox` exist only when the sandbox is on). Neither takes an
/// API key: a notification is trusted only through its signature over the raw body, the checkout page only
/// sends such notifications.
struct PaymentWebhooksController {
    let orders: OrderService
    let payments: PaymentProviders
    /// The payer's pages (the way back from a provider, the sandbox's checkout); nil if their templates are missing.
    let pages: PaymentPages?
    let clock: @Sendable () -> Date

    static let maximumNotificationSize = 64 * 1024

    func addRoutes(to router: Router<RechargeRequestContext>) {
        router.post("webhooks/stripe", use: stripeNotification)
        router.post("webhooks/alipay", use: alipayNotification)
        router.post("webhooks/wechat_pay", use: wechatPayNotification)
        router.post("webhooks/paypal", use: paypalNotification)
        if payments.stripe?.publicURL != nil {
            router.get("stripe/return", use: stripeReturn)
        }
        if payments.paypal != nil {
            router.get("paypal/return", use: paypalReturn)
            router.get("paypal/cancel", use: paypalCancel)
        }
        // Off (production), the sandbox has no route at all: nothing answers that could pay an order.
        if payments.sandbox != nil {
            router.post("webhooks/sandbox", use: sandboxNotification)
            router.get("sandbox/checkout/{id}", use: checkoutPage)
            router.post("sandbox/checkout/{id}", use: checkoutAction)
        }
    }

    /// A verified notification applies once; a forged, stale, replayed or mismatched one changes nothing and
    /// is answered with a problem (providers retry on non-2xx, which for a forgery is harmless).
    @Sendable func sandboxNotification(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let sandbox = payments.sandbox else { throw RechargeError.paymentMethodUnavailable("sandbox") }
        let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
        let signature = request.headers[HTTPField.Name(SandboxGateway.signatureHeader)!]
        let outcome = try await receive("sandbox", logger: context.logger) { now throws(RechargeError) in
            try sandbox.verify(body: body, signature: signature, now: now)
        }
        return Self.acknowledgement(outcome)
    }

    /// Stripe events: payment successes and failures move orders; other types are acknowledged and logged.
    @Sendable func stripeNotification(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let stripe = payments.stripe else { throw RechargeError.paymentMethodUnavailable("stripe") }
        let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
        let signature = request.headers[HTTPField.Name(StripeWebhookSignature.headerName)!]
        let now = clock()
        let verified: StripeGateway.Outcome
        do {
            verified = try stripe.verify(body: body, signature: signature, now: now)
        } catch {
            context.logger.warning("Payment notification rejected", metadata: ["provider": "stripe", "reason": "\(error.detail)"])
            throw error
        }
        switch verified {
        case .ignored(let type):
            return Self.ignored(type, provider: "stripe", logger: context.logger)
        case .confirmation(let confirmation):
            // Signed by Stripe but about no order of ours (another system's payment, a dispute on another
            // PaymentIntent): 200 `ignored`, since Stripe retries every non-2xx for days and a retry cannot help.
            do {
                return Self.acknowledgement(try await receive("stripe", logger: context.logger) { _ in confirmation })
            } catch RechargeError.orderNotFound {
                return Self.ignored("\(confirmation.eventID) (order \(confirmation.orderID) is not ours)", provider: "stripe", logger: context.logger)
            }
        case .dispute(let eventID, let disputeID, let paymentIntent, let event):
            do {
                return try await dispute(.stripe, eventID: eventID, disputeID: disputeID, providerReference: paymentIntent, event: event,
                                         now: now, logger: context.logger)
            } catch RechargeError.orderNotFound {
                return Self.ignored("\(eventID) (PaymentIntent \(paymentIntent) is not one of ours)", provider: "stripe", logger: context.logger)
            }
        }
    }

    /// Alipay retries until it reads exactly `success`; anything refused is answered `fail` (and logged).
    @Sendable func alipayNotification(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let alipay = payments.alipay else { throw RechargeError.paymentMethodUnavailable("alipay") }
        let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
        do {
            _ = try await receive("alipay", logger: context.logger) { now throws(RechargeError) in try alipay.verify(body: body, now: now) }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "success")))
        } catch let error as RechargeError {
            return Response(status: Problem.status(for: error), headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "fail")))
        }
    }

    /// WeChat Pay wants 200/204 for accepted, and `{"code":"FAIL","message":…}` with a 4xx/5xx otherwise.
    @Sendable func wechatPayNotification(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let wechat = payments.wechatPay else { throw RechargeError.paymentMethodUnavailable("wechat_pay") }
        let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
        func header(_ name: String) -> String? { request.headers[HTTPField.Name(name)!] }
        let headers = WeChatPaySignatureHeaders(
            timestamp: header(WeChatPaySignatureHeaders.timestampName), nonce: header(WeChatPaySignatureHeaders.nonceName),
            signature: header(WeChatPaySignatureHeaders.signatureName), serial: header(WeChatPaySignatureHeaders.serialName))
        do {
            _ = try await receive("wechat_pay", logger: context.logger) { now throws(RechargeError) in
                try wechat.verify(body: body, headers: headers, now: now)
            }
            return Response(status: .noContent)
        } catch let error as RechargeError {
            var json = JSONWriter(capacity: 128)
            json.object { json in
                json.field("code", "FAIL")
                json.field("message", error.detail)
            }
            return Response(status: Problem.status(for: error), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
        }
    }

    /// PayPal webhooks: verified (locally or by PayPal's verify API), then an approval is captured, a capture
    /// applied; other event types are acknowledged. PayPal retries a delivery that is not answered 2xx.
    @Sendable func paypalNotification(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let paypal = payments.paypal else { throw RechargeError.paymentMethodUnavailable("paypal") }
        let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
        func header(_ name: String) -> String? { request.headers[HTTPField.Name(name)!] }
        let headers = PayPalWebhookHeaders(
            transmissionID: header(PayPalWebhookHeaders.transmissionIDName), transmissionTime: header(PayPalWebhookHeaders.transmissionTimeName),
            transmissionSignature: header(PayPalWebhookHeaders.transmissionSignatureName), certURL: header(PayPalWebhookHeaders.certURLName),
            authAlgorithm: header(PayPalWebhookHeaders.authAlgorithmName))
        let verified: PayPalGateway.Outcome
        do {
            verified = try await paypal.verify(body: body, headers: headers, now: clock())
        } catch {
            context.logger.warning("Payment notification rejected", metadata: ["provider": "paypal", "reason": "\(error.detail)"])
            throw error
        }
        switch verified {
        case .ignored(let type):
            return Self.ignored(type, provider: "paypal", logger: context.logger)
        case .confirmation(let confirmation):
            return Self.acknowledgement(try await receive("paypal", logger: context.logger) { _ in confirmation })
        case .approved(let orderID, let paypalOrderID):
            let order = try await orders.order(orderID)
            // Once paid, the order keeps the capture id instead; before, the approved PayPal order must be the one we made.
            guard order.paymentMethod == .paypal, order.state.isPaidFor || order.providerReference == paypalOrderID else {
                throw RechargeError.paymentNotVerified(provider: "paypal", reason: "PayPal order \(paypalOrderID) is not the one of order \(orderID)")
            }
            let captured = try await capture(order, paypal: paypal, logger: context.logger)
            return Self.acknowledgement(order: captured.order, duplicate: captured.duplicate)
        case .dispute(let eventID, let disputeID, let captureID, let event):
            return try await dispute(.paypal, eventID: eventID, disputeID: disputeID, providerReference: captureID, event: event,
                                     now: clock(), logger: context.logger)
        }
    }

    /// A chargeback opened (what is left of the money held, the line suspended) or closed, once per event.
    private func dispute(_ provider: PaymentMethod, eventID: String, disputeID: String, providerReference: String,
                         event: OrderStore.DisputeEvent, now: Date, logger: Logger) async throws -> Response {
        let outcome = try await orders.dispute(provider: provider, eventID: eventID, disputeID: disputeID,
                                               providerReference: providerReference, event: event)
        logger.notice("Payment dispute", metadata: [
            "provider": "\(provider.rawValue)", "dispute": "\(disputeID)", "order": "\(outcome.orderID)", "state": "\(outcome.state)",
            "held": "\(outcome.debited)", "duplicate": "\(outcome.duplicate)",
        ])
        var json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("received", true)
            json.field("duplicate", outcome.duplicate)
            json.field("order", outcome.orderID)
            json.field("dispute", outcome.state)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// Captures a PayPal order the payer approved and applies the capture; an order already paid (or captured
    /// by another path) is left as it is.
    private func capture(_ order: RechargeOrder, paypal: PayPalGateway, logger: Logger) async throws -> (order: RechargeOrder, duplicate: Bool) {
        guard [.created, .awaitingPayment, .failed, .expired, .cancelled].contains(order.state), let reference = order.providerReference else {
            return (order, true)
        }
        let confirmation: PaymentConfirmation?
        do {
            confirmation = try await paypal.capture(order, paypalOrderID: reference)
        } catch let error as RechargeError {
            throw error
        } catch {
            throw Problem.providerUnavailable("PayPal did not capture order \(order.id): \(error). It will be asked again.")
        }
        guard let confirmation else { return (order, true) }
        let outcome = try await receive("paypal", logger: logger) { _ in confirmation }
        return (outcome.order, outcome.duplicate)
    }

    /// The payer's way back from PayPal's approval page: capture, then a small page with the outcome.
    @Sendable func paypalReturn(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let paypal = payments.paypal else { throw RechargeError.paymentMethodUnavailable("paypal") }
        let order = try await orders.order(request.uri.queryParameters.get("order") ?? "")
        guard order.paymentMethod == .paypal else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
        // The token PayPal appends must be the PayPal order we made; the capture uses ours, never the query's.
        if let token = request.uri.queryParameters.get("token"), order.state != .fulfilled, token != order.providerReference {
            throw RechargeError.paymentNotVerified(provider: "paypal", reason: "token \(token) is not the PayPal order of \(order.id)")
        }
        let outcome = try await capture(order, paypal: paypal, logger: context.logger)
        return try page().result(.paypal, order: outcome.order, statusKey: PaymentPages.returnStatusKey(outcome.order.state, left: nil),
                                  language: Self.language(request))
    }

    /// The payer's way back from Stripe Checkout: the session is asked (so the page need not wait for the
    /// webhook), then a small page shows the outcome.
    @Sendable func stripeReturn(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard payments.stripe != nil else { throw RechargeError.paymentMethodUnavailable("stripe") }
        var order = try await orders.order(request.uri.queryParameters.get("order") ?? "")
        guard order.paymentMethod == .stripe else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
        let cancelled = request.uri.queryParameters.get("cancelled") != nil
        if !cancelled, !order.state.isPaidFor, let session = payments.registry.gateway(for: order) as? StripeCheckoutGateway {
            do {
                if let confirmation = try await session.query(order) {
                    order = try await receive("stripe", logger: context.logger) { _ in confirmation }.order
                }
            } catch {
                // The webhook or the reconciliation job applies it; the page says it is not complete yet.
                context.logger.warning("Stripe Checkout status query failed", metadata: ["order": "\(order.id)", "error": "\(error)"])
            }
        }
        return try page().result(.card, order: order, statusKey: PaymentPages.returnStatusKey(order.state, left: cancelled ? "payment_left_card_page" : nil),
                                  language: Self.language(request))
    }

    @Sendable func paypalCancel(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let order = try await orders.order(request.uri.queryParameters.get("order") ?? "")
        return try page().result(.paypal, order: order, statusKey: "payment_left_paypal", language: Self.language(request))
    }

    /// The payer's language: Accept-Language (the providers send the payer back without the portal's cookie).
    static func language(_ request: Request) -> NotificationLanguage {
        request.headers[.acceptLanguage]?.hasPrefix("zh") == true ? .simplifiedChinese : .english
    }

    private func page() throws -> PaymentPages {
        guard let pages else {
            throw Problem(status: .serviceUnavailable, code: "pages-unavailable", title: "Pages unavailable",
                          detail: "The page templates could not be loaded from the bundle.")
        }
        return pages
    }

    /// An event type the order flow does not act on: acknowledged (so the provider stops retrying) and logged.
    static func ignored(_ type: String, provider: String, logger: Logger) -> Response {
        logger.info("Payment event acknowledged, not acted on", metadata: ["provider": "\(provider)", "type": "\(type)"])
        var json = JSONWriter(capacity: 64)
        json.object { json in
            json.field("received", true)
            json.field("ignored", type)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    static func acknowledgement(_ outcome: OrderStore.PaymentOutcome) -> Response {
        acknowledgement(order: outcome.order, duplicate: outcome.duplicate)
    }

    static func acknowledgement(order: RechargeOrder, duplicate: Bool) -> Response {
        var json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("received", true)
            json.field("duplicate", duplicate)
            json.field("order", order.id)
            json.field("state", order.state.rawValue)
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// Verifies (the closure checks the signature on the raw bytes), then applies once; every rejection is logged.
    private func receive(_ provider: String, logger: Logger,
                         verify: (Date) throws(RechargeError) -> PaymentConfirmation) async throws -> OrderStore.PaymentOutcome {
        let now = clock()
        do {
            let confirmation = try verify(now)
            let outcome = try await orders.confirm(confirmation)
            logger.info("Payment notification", metadata: [
                "provider": "\(provider)", "event": "\(confirmation.eventID)", "order": "\(outcome.order.id)",
                "state": "\(outcome.order.state.rawValue)", "duplicate": "\(outcome.duplicate)",
            ])
            return outcome
        } catch let error as RechargeError {
            logger.warning("Payment notification rejected", metadata: ["provider": "\(provider)", "reason": "\(error.detail)"])
            throw error
        }
    }

    // MARK: The sandbox's hosted checkout page

    @Sendable func checkoutPage(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        let order = try await orders.order(context.parameters.get("id") ?? "")
        // The language the portal's visitor chose, else the browser's.
        let language = request.cookies[PortalController.languageCookie].map { $0.value == "zh-Hans" ? .simplifiedChinese : .english }
            ?? Self.language(request)
        // A shop page to go back to (the portal's result page): a path on this site only.
        return try page().checkout(order, back: PortalController.localPath(request.uri.queryParameters.get("return")), language: language)
    }

    /// Pay or Fail: the sandbox sends its signed notification (the same bytes a webhook would carry) and shows the result.
    @Sendable func checkoutAction(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        guard let sandbox = payments.sandbox else { throw RechargeError.paymentMethodUnavailable("sandbox") }
        let id = context.parameters.get("id") ?? ""
        let form = String(buffer: try await JSONBody.collect(request, upTo: 1024))
        let action = form.split(separator: "&").first { $0.hasPrefix("action=") }?.dropFirst("action=".count)
        guard action == "pay" || action == "fail" else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "Invalid request", detail: "action must be pay or fail.", field: "action")
        }
        let order = try await orders.order(id)
        guard order.paymentMethod == .sandbox else { throw RechargeError.paymentMethodUnavailable(order.paymentMethod.rawValue) }
        var generator = SystemRandomNumberGenerator()
        let eventID = "evt_sbx_" + RechargeOrder.newID(using: &generator).dropFirst(4)
        let notification = sandbox.notification(for: order, succeeded: action == "pay", eventID: eventID, now: clock())
        _ = try await receive("sandbox", logger: context.logger) { now throws(RechargeError) in
            try sandbox.verify(body: notification.body, signature: notification.signature, now: now)
        }
        // Back to the shop's page when it sent the payer here with one, else to this page with the outcome.
        let back = PortalController.localPath(request.uri.queryParameters.get("return"))
        return Response(status: .seeOther, headers: [.location: back ?? "/sandbox/checkout/\(id)"])
    }
}
