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
        router.post("webhooks/stripe", use: notification(.stripe))
        router.post("webhooks/alipay", use: notification(.alipay))
        router.post("webhooks/wechat_pay", use: notification(.wechatPay))
        router.post("webhooks/paypal", use: notification(.paypal))
        if payments.stripe?.publicURL != nil {
            router.get("stripe/return", use: stripeReturn)
        }
        if payments.paypal != nil {
            router.get("paypal/return", use: paypalReturn)
            router.get("paypal/cancel", use: paypalCancel)
        }
        // Off (production), the sandbox has no route at all: nothing answers that could pay an order.
        if payments.sandbox != nil {
            router.post("webhooks/sandbox", use: notification(.sandbox))
            router.get("sandbox/checkout/{id}", use: checkoutPage)
            router.post("sandbox/checkout/{id}", use: checkoutAction)
        }
    }

    /// Every provider's notifications take one path: its adapter in the registry verifies the signature on the raw
    /// bytes and says what they mean (``PaymentGateway/interpret(_:now:)``), the order service applies the event
    /// once, and the answer is what that provider reads — the adapter's own reply where it parses one (Alipay's
    /// `success`, WeChat Pay's ack), else the server's JSON receipt. A forged, stale, replayed or mismatched
    /// notification changes nothing and is refused (providers retry a non-2xx, which for a forgery is harmless);
    /// every refusal is logged.
    func notification(_ method: PaymentMethod) -> @Sendable (Request, RechargeRequestContext) async throws -> Response {
        { request, context in
            guard let gateway = payments.registry.gateway(for: method) else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
            let body = Array(buffer: try await JSONBody.collect(request, upTo: Self.maximumNotificationSize))
            var headers: [String: String] = [:]
            for field in request.headers where headers[field.name.canonicalName] == nil { headers[field.name.canonicalName] = field.value }
            do {
                let event = try await gateway.interpret(PaymentNotification(body: body, headers: headers), now: clock())
                let receipt = try await take(event, from: gateway, logger: context.logger)
                return gateway.acknowledgement(for: event).map { Self.response($0) } ?? receipt
            } catch let error as RechargeError {
                context.logger.warning("Payment notification rejected", metadata: ["provider": "\(method.rawValue)", "reason": "\(error.detail)"])
                let status = Problem.status(for: error)
                guard let refusal = gateway.refusal(error, status: status.code) else { throw error }
                return Self.response(refusal, among: [status])
            }
        }
    }

    /// Hands a verified event to the order service and returns the server's JSON receipt of what it did. A
    /// genuine event about no order of ours is refused, unless the adapter acknowledges such events
    /// (``PaymentGateway/foreignEvent(_:)``: Stripe's, since a retry cannot help).
    private func take(_ event: PaymentEvent, from gateway: any PaymentGateway, logger: Logger) async throws -> Response {
        let provider = gateway.method
        do {
            switch event {
            case .confirmation(let confirmation):
                return Self.acknowledgement(try await confirm(confirmation, provider: provider, logger: logger))
            case .approved(let orderID, let reference):
                guard let capturing = gateway as? any PaymentCapturing else {
                    throw RechargeError.paymentNotVerified(provider: provider.rawValue, reason: "\(gateway.displayName) payments are not captured")
                }
                let order = try await orders.order(orderID)
                // Once paid, the order keeps the capture id instead; before, the approved payment must be the one we made.
                guard order.paymentMethod == provider, order.state.isPaidFor || order.providerReference == reference else {
                    throw RechargeError.paymentNotVerified(provider: provider.rawValue,
                                                           reason: "\(gateway.displayName) order \(reference) is not the one of order \(orderID)")
                }
                let captured = try await capture(order, through: capturing, logger: logger)
                return Self.acknowledgement(order: captured.order, duplicate: captured.duplicate)
            case .dispute(let eventID, let disputeID, let reference, let dispute):
                return try await self.dispute(provider, eventID: eventID, disputeID: disputeID, providerReference: reference, event: dispute, logger: logger)
            case .ignored(let type):
                return Self.ignored(type, provider: provider.rawValue, logger: logger)
            }
        } catch let error as RechargeError {
            guard case .orderNotFound = error, case .ignored(let type)? = gateway.foreignEvent(event) else { throw error }
            return Self.ignored(type, provider: provider.rawValue, logger: logger)
        }
    }

    /// A chargeback opened (what is left of the money held, the line suspended) or closed, once per event.
    private func dispute(_ provider: PaymentMethod, eventID: String, disputeID: String, providerReference: String,
                         event: OrderStore.DisputeEvent, logger: Logger) async throws -> Response {
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

    /// Captures a payment the payer approved (a PayPal order) and applies the capture; an order already paid (or
    /// captured by another path) is left as it is.
    private func capture(_ order: RechargeOrder, through gateway: any PaymentCapturing,
                         logger: Logger) async throws -> (order: RechargeOrder, duplicate: Bool) {
        guard [.created, .awaitingPayment, .failed, .expired, .cancelled].contains(order.state), let reference = order.providerReference else {
            return (order, true)
        }
        let confirmation: PaymentConfirmation?
        do {
            confirmation = try await gateway.capture(order, reference: reference)
        } catch let error as RechargeError {
            throw error
        } catch {
            throw Problem.providerUnavailable("\(gateway.displayName) did not capture order \(order.id): \(error). It will be asked again.")
        }
        guard let confirmation else { return (order, true) }
        let outcome = try await confirm(confirmation, provider: gateway.method, logger: logger)
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
        let outcome = try await capture(order, through: paypal, logger: context.logger)
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
                    order = try await confirm(confirmation, provider: .stripe, logger: context.logger).order
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

    /// Applies a verified payment once (a duplicate changes nothing) and logs it.
    private func confirm(_ confirmation: PaymentConfirmation, provider: PaymentMethod, logger: Logger) async throws -> OrderStore.PaymentOutcome {
        let outcome = try await orders.confirm(confirmation)
        logger.info("Payment notification", metadata: [
            "provider": "\(provider.rawValue)", "event": "\(confirmation.eventID)", "order": "\(outcome.order.id)",
            "state": "\(outcome.order.state.rawValue)", "duplicate": "\(outcome.duplicate)",
        ])
        return outcome
    }

    /// A reply an adapter described, as a response; `statuses`: the server's own, with their reason phrases.
    static func response(_ reply: PaymentNotificationReply, among statuses: [HTTPResponse.Status] = [.ok, .noContent]) -> Response {
        let status = statuses.first { $0.code == reply.status } ?? HTTPResponse.Status(code: reply.status)
        var headers = HTTPFields()
        if let contentType = reply.contentType { headers[.contentType] = contentType }
        guard !reply.body.isEmpty else { return Response(status: status, headers: headers) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: reply.body)))
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
        // The same path as a webhook: verified on its bytes by the adapter, then handed to the order service.
        let signed = PaymentNotification(body: notification.body, headers: [SandboxGateway.signatureHeader: notification.signature])
        do {
            _ = try await take(try await sandbox.interpret(signed, now: clock()), from: sandbox, logger: context.logger)
        } catch let error as RechargeError {
            context.logger.warning("Payment notification rejected", metadata: ["provider": "sandbox", "reason": "\(error.detail)"])
            throw error
        }
        // Back to the shop's page when it sent the payer here with one, else to this page with the outcome.
        let back = PortalController.localPath(request.uri.queryParameters.get("return"))
        return Response(status: .seeOther, headers: [.location: back ?? "/sandbox/checkout/\(id)"])
    }
}
