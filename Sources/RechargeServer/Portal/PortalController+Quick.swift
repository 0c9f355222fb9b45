import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeOrders
import RechargeStore

/// Quick recharge: any number, without an account (the phone-card guide's "enter the number, amount and method,
/// check, pay"). Four steps, each a public page:
///
/// 1. `GET /quick`: the number, typed twice. Typed twice rather than only shown on the review page: a typo there
///    pays a stranger's line, which cannot be undone, and checking the two copies costs nothing (no lookup, no
///    counter) while showing it again on the review page only works for a payer who reads it.
/// 2. `GET /quick/choose`: the line's top-ups, packs and custom amount in its currency, the payment method and an
///    optional SMS number or email for the success message (the eSIM guide's step 2).
/// 3. `GET /quick/review`: the quote (promotions applied as for a subscriber), the number shown once more.
/// 4. `POST /quick/pay`: the order, through the same ``OrderPlacement`` as the signed-in Pay and the API, with the
///    payer recorded as a guest (``OrderPayer``); then the provider, returning to the guest's order page
///    `/quick/orders/{token}` (``GuestOrderLink``: signed, expiring), which is the signed-in order page's view model and
///    template, and its receipt.
///
/// What a stranger's request costs is bounded: steps 2 and 3 read one line and the catalog and claim two counters
/// (per client address, per number: ``GuestRechargeLimits``); Pay claims two more, writes one order row and asks
/// one provider — nothing reaches a provider before Pay, and an unpaid order expires with the others. A number that
/// is not ours, is closed or sells nothing gets the same "cannot recharge this number" page, and no page ever shows
/// a guest a balance, a name or a line's state.
extension PortalController {
    func addQuickRoutes(to router: Router<RechargeRequestContext>) {
        router.get("quick", use: wrap(quickPage))
        router.get("quick/choose", use: wrap(quickChoose))
        router.get("quick/review", use: wrap(quickReview))
        router.post("quick/pay", use: wrap(quickPay))
        router.get("quick/orders/{token}", use: wrap(quickOrder))
        router.get("quick/orders/{token}/receipt", use: wrap(quickReceipt))
        router.get("quick/orders/{token}/state", use: wrap(quickOrderState))
        router.get("quick/orders/{token}/qr.png", use: wrap(quickQRCode))
    }

    /// A GET form's fields, decoded as a browser encodes them (`+` is a space: "+1 415 555 0100" arrives as
    /// `%2B1+415+555+0100`), which the router's query parameters do not do.
    static func query(_ request: Request) -> [String: String] {
        PortalForm.parse(request.uri.query ?? "")
    }

    /// The one answer for every number a guest cannot recharge, whatever the reason.
    static let cannotRecharge = PortalRefusal(status: .unprocessableContent, key: "quick_cannot_recharge")

    @Sendable func quickPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let query = Self.query(request)
        return page("quick", visitor, title: "quick_title", model: QuickView(number: String((query["number"] ?? "").prefix(40)), confirm: ""))
    }

    /// The number of step 1: both copies valid and the same number (spaces, dashes and a missing `+` aside).
    private func typedNumber(_ number: String?, _ confirm: String?, _ visitor: Visitor) throws -> MSISDN {
        let refuse = { (key: String) in PortalRefusal(status: .unprocessableContent, key: key) }
        guard let number, let msisdn = try? MSISDN(number) else { throw refuse("quick_number_invalid") }
        guard let confirm, let again = try? MSISDN(confirm), again == msisdn else { throw refuse("quick_number_mismatch") }
        return msisdn
    }

    /// Claims `step`'s counters for `number` from the visitor's address; a spent one is a 429 with `Retry-After`.
    private func claimGuest(_ step: GuestRechargeLimits.Step, _ number: MSISDN, _ visitor: Visitor) async throws {
        let now = clock()
        let claims = configuration.guestLimits.claims(step, client: visitor.client, number: number, now: now)
        if let refused = try await services.guests.claim(claims) {
            let seconds = max(1, Int(refused.windowEnd.timeIntervalSince(now).rounded(.up)))
            throw PortalRefusal(status: .tooManyRequests, key: "quick_too_many", values: ["minutes": String(max(1, (seconds + 59) / 60))],
                                retryAfter: seconds)
        }
    }

    /// The line's currency when a guest may recharge it; else the one "cannot recharge" page.
    private func guestCurrency(_ number: MSISDN) async throws -> Currency {
        guard let currency = try await services.guests.rechargeableCurrency(number) else { throw Self.cannotRecharge }
        return currency
    }

    @Sendable func quickChoose(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let query = Self.query(request)
        let number: MSISDN
        do {
            number = try typedNumber(query["number"], query["confirm"], visitor)
        } catch let refusal as PortalRefusal {
            let view = QuickView(number: String((query["number"] ?? "").prefix(40)), confirm: String((query["confirm"] ?? "").prefix(40)))
            return page("quick", visitor, title: "quick_title", status: refusal.status, model: view, flash: PortalFlash(error: text(refusal.key, visitor)))
        }
        try await claimGuest(.review, number, visitor)
        let currency = try await guestCurrency(number)
        return try await quickForm(visitor, number: number, currency: currency, item: query["item"], code: query["promotionCode"] ?? "",
                                   method: query["method"], amount: query["amount"] ?? "", contact: query["contact"] ?? "")
    }

    func quickForm(_ visitor: Visitor, number: MSISDN, currency: Currency, item: String?, code: String, method: String?, amount: String,
                   contact: String, status: HTTPResponse.Status = .ok, error: String? = nil) async throws -> Response {
        let catalog = try await services.catalog.catalog()
        let view = RechargeView.make(lines: [], products: catalog.products, currency: currency, selected: item, code: code, methods: offeredMethods,
                                     method: method, customRange: catalog.customTopUp[currency], amount: String(amount.prefix(40)),
                                     guest: RechargeView.Guest(number: number.e164, contact: String(contact.prefix(254))), locale(visitor))
        return page("recharge", visitor, title: "quick_title", status: status, model: view, flash: PortalFlash(error: error))
    }

    @Sendable func quickReview(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let query = Self.query(request)
        guard let number = try? MSISDN(query["number"] ?? "") else { throw Self.cannotRecharge }
        try await claimGuest(.review, number, visitor)
        let currency = try await guestCurrency(number)
        let item = query["item"] ?? ""
        let amount = query["amount"] ?? ""
        let contactText = query["contact"] ?? ""
        let code = (query["promotionCode"] ?? "").trimmingCharacters(in: .whitespaces)
        let method = try self.method(query["method"])
        let again = { (key: String, values: [String: String]) in
            try await self.quickForm(visitor, number: number, currency: currency, item: item, code: code, method: method.rawValue, amount: amount,
                                     contact: contactText, status: .unprocessableContent, error: self.text(key, visitor, values))
        }
        let contact: GuestContact?
        do { contact = try GuestContact.parse(contactText) } catch { return try await again("quick_contact_invalid", [:]) }
        let ordered: OrderItem
        do {
            ordered = try await orderItem(item, amount: amount, currency: currency)
        } catch {
            let (key, values) = Self.amountMessage(error)
            return try await again(key, values)
        }
        let quoted: (OrderQuote, String?)
        do {
            quoted = try await quote(number, ordered, code: code, method: method, visitor)
        } catch RechargeError.productNotFound {
            return try await again("error_product", [:])
        } catch RechargeError.lineNotFound, RechargeError.lineNotActive {
            throw Self.cannotRecharge
        }
        let guest = ReviewView.Guest(contact: contact?.recipient ?? "", contactText: contact.map { contact in
            switch contact {
            case .sms(let number): text("quick_contact_sms", visitor, ["number": number.e164])
            case .email(let address): text("quick_contact_email", visitor, ["email": address])
            }
        })
        let view = ReviewView.make(line: number, item: item, method: method, code: code, codeApplied: quoted.1 == nil, quote: quoted.0,
                                   key: Self.randomToken(), amount: amount, guest: guest, locale(visitor))
        return page("review", visitor, title: "quick_review_title", model: view, flash: PortalFlash(error: quoted.1))
    }

    /// Creates the guest's order (keyed by the review page's token, so pressing Pay twice makes one order) through the
    /// same placement as every order, and sends the browser to the provider, which returns to the guest's order page.
    @Sendable func quickPay(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        guard let number = try? MSISDN(fields["number"] ?? "") else { throw Self.cannotRecharge }
        let method = try self.method(fields["method"])
        let code = (fields["promotionCode"] ?? "").trimmingCharacters(in: .whitespaces)
        let token = fields["key"] ?? ""
        guard (20...64).contains(token.utf8.count), token.utf8.allSatisfy({ $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
        else { throw PortalRefusal(status: .badRequest, key: "error_generic") }
        let contact: GuestContact?
        do { contact = try GuestContact.parse(fields["contact"] ?? "") } catch { throw PortalRefusal(status: .unprocessableContent, key: "quick_contact_invalid") }
        try await claimGuest(.pay, number, visitor)
        let currency = try await guestCurrency(number)
        let item = try await orderItem(fields["item"] ?? "", amount: fields["amount"] ?? "", currency: currency)
        let placed: OrderPlacement.Placed
        do {
            placed = try await OrderPlacement(orders: services.orderService, payments: services.payments).place(
                msisdn: number, item: item, method: method, promotionCode: code.isEmpty ? nil : code, payCurrency: nil,
                payer: .guest(contact: contact, language: visitor.language), stripeSession: method == .stripe,
                key: try IdempotencyKey("guest-\(token)"), chinese: visitor.language == .simplifiedChinese)
        } catch RechargeError.lineNotFound, RechargeError.lineNotActive {
            throw Self.cannotRecharge
        }
        let result = try await guestOrderURL(placed.order)
        if let checkout = placed.checkout, checkout.type == "redirect", let url = checkout.url, placed.order.state == .awaitingPayment {
            return redirect(url.hasPrefix("/sandbox/") ? url + "?return=" + PortalForm.encode(result) : url)
        }
        return redirect(result)
    }

    /// The guest's signed link to `order`, expiring ``GuestOrderLink/lifetime`` after the order was placed.
    func guestOrderURL(_ order: RechargeOrder) async throws -> String {
        let link = GuestOrderLink(key: try await services.database.serverSecret(GuestOrderLink.secretName))
        return "/quick/orders/" + link.token(orderID: order.id, expires: order.createdAt.addingTimeInterval(GuestOrderLink.lifetime))
    }

    /// The guest order a link names: a link that is malformed, forged, expired, or names a subscriber's order is
    /// answered like an order that does not exist.
    private func guestOrder(_ token: String) async throws -> RechargeOrder {
        let link = GuestOrderLink(key: try await services.database.serverSecret(GuestOrderLink.secretName))
        guard let id = try? link.orderID(from: token, now: clock()), try await services.orders.isGuestOrder(id) else { throw PortalRefusal.notFound }
        return try await services.orders.order(id)
    }

    @Sendable func quickOrder(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let token = request.pathSegment()
        let order = try await guestOrder(token)
        let checkout = order.state == .awaitingPayment ? services.payments.checkout(for: order) : nil
        let view = OrderView.make(order, viewer: .guest(orderURL: "/quick/orders/\(token)"), checkout: checkout, now: clock(), locale(visitor))
        return page("order", visitor, title: "order_title", model: view, refresh: view.waiting)
    }

    /// What the guest's order page polls while it waits (as the subscriber's does).
    @Sendable func quickOrderState(_ request: Request, _ visitor: Visitor) async throws -> Response {
        return Self.stateResponse(try await guestOrder(request.pathSegment(fromEnd: 1)))
    }

    /// The wallet's QR code of a guest's order awaiting payment, as a PNG to save (as the subscriber's).
    @Sendable func quickQRCode(_ request: Request, _ visitor: Visitor) async throws -> Response {
        return try qrCodeResponse(try await guestOrder(request.pathSegment(fromEnd: 1)))
    }

    @Sendable func quickReceipt(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let token = request.pathSegment(fromEnd: 1)
        let order = try await guestOrder(token)
        guard [.fulfilled, .refunded, .partiallyRefunded].contains(order.state) else { throw PortalRefusal.notFound }
        return page("receipt", visitor, title: "receipt_title",
                    model: ReceiptView.order(order, guestOrderURL: "/quick/orders/\(token)", locale(visitor)))
    }
}

/// `quick.mustache`: the number a guest recharges, typed twice.
struct QuickView: Sendable {
    let number: String
    let confirm: String
}
