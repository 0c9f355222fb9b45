import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Prometheus
import RechargeCore
import RechargeStore

/// A portal setting that cannot be used, named by its variable.
public enum PortalConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(variable: String, value: String, reason: String)

    public var code: String { "portal_configuration_invalid" }

    public var description: String {
        switch self {
        case .invalid(let variable, let value, let reason): return "\(variable)=\(value): expected \(reason)"
        }
    }
}

/// Who is asking: the signed-in account (if any), the language pages are shown in, and the CSRF token every
/// form must carry back.
struct Visitor: Sendable {
    var language: NotificationLanguage
    var account: Account?
    var session: PortalSession?
    /// The session's token, or for a visitor not signed in the `rc_csrf` cookie's value (double submit).
    var csrf: String
    /// Set when an anonymous visitor had no `rc_csrf` cookie yet: the response sets it.
    var newAnonymousToken: String?
    /// The `rc_csrf` cookie the browser sent: a form rendered before signing in (a login page left open in
    /// another tab) carries it and is accepted too; it is as secret as the session's token.
    var anonymousToken: String? = nil
    var path: String
    /// Who is asking, for the per-client limits: ``ClientAddressRule``'s key (an IPv4 address or an IPv6 /64).
    var client: String = "127.0.0.1"
}

/// A page's answer that is not a rendered page: a redirect.
struct PortalRedirect: Error {
    let location: String
}

/// A refusal shown as a localized error page (or above the form that caused it).
struct PortalRefusal: Error {
    let status: HTTPResponse.Status
    let key: String
    var values: [String: String] = [:]
    var retryAfter: Int?

    static let notFound = PortalRefusal(status: .notFound, key: "error_not_found")
    static let csrf = PortalRefusal(status: .forbidden, key: "error_csrf")
    static let formTooLarge = PortalRefusal(status: .contentTooLarge, key: "error_form_too_large")

    /// `response` (a form shown again with this refusal) with the refusal's `Retry-After`, when it has one.
    func retrying(_ response: Response) -> Response {
        guard let retryAfter else { return response }
        var response = response
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }
}

/// What became of a one-time code the portal was asked to send. A code withheld answers the visitor exactly like
/// one sent: whether a number is served, or a budget spent, is nobody's business but the operator's.
enum CodeDelivery: Equatable {
    case sent
    /// Not a number this operator serves (``SMSDestinationRule``).
    case withheldDestination
    /// A budget of ``SMSCodeBudget`` is spent.
    case withheldBudget(SMSCodeBudget.Scope)
}

/// The subscriber portal: server-rendered pages (Mustache, zh-Hans and English) over the same stores the API
/// uses. Handlers decode the form, call a store, and render; every form is CSRF-checked; every line, order and
/// transaction shown is first checked to belong to the signed-in account (anything else is a 404, the same as a
/// number that does not exist).
struct PortalController: Sendable {
    static let sessionCookie = "rc_session"
    static let anonymousCookie = "rc_csrf"
    static let languageCookie = "rc_lang"

    let services: RechargeServices
    let accounts: AccountStore
    let resources: PortalResources
    let configuration: PortalConfiguration
    let logger: Logger
    /// What a login with a number that has no account is checked against, so it costs the same bcrypt work; made on
    /// first use (off the event loop), not when the router is built.
    let dummy = NIOLockedValueBox<String?>(nil)

    init(services: RechargeServices, resources: PortalResources, configuration: PortalConfiguration, logger: Logger) {
        self.services = services
        self.accounts = services.accounts
        self.resources = resources
        self.configuration = configuration
        self.logger = logger
    }

    var clock: @Sendable () -> Date { services.clock }

    func addRoutes(to router: Router<RechargeRequestContext>) {
        router.get("", use: wrap(home))
        router.get("static/portal.css", use: stylesheet)
        router.get("static/portal.js", use: script)
        addInstallRoutes(to: router)
        router.post("language", use: wrap(switchLanguage))
        addAuthRoutes(to: router)
        addAccountRoutes(to: router)
        addSettingsRoutes(to: router)
        addQuickRoutes(to: router)
        addOfferRoutes(to: router)
    }

    // MARK: Visitor, forms and rendering

    /// The largest form body read (a form of the portal is well under 1 KiB); larger is 413 before it is read.
    static let maxFormBytes = 16 * 1024

    func visitor(_ request: Request, context: RechargeRequestContext) async throws -> Visitor {
        let cookies = request.cookies
        var account: Account?
        var session: PortalSession?
        if let token = cookies[Self.sessionCookie]?.value, !token.isEmpty, token.utf8.count <= 128,
           let found = try await accounts.session(token: token, now: clock()) {
            account = found.account
            session = found.session
        }
        let chosen = cookies[Self.languageCookie].flatMap { NotificationLanguage(rawValue: $0.value) }
        let language = chosen ?? account?.language ?? Self.language(acceptLanguage: request.headers[.acceptLanguage])
        var csrf = session?.csrfToken ?? cookies[Self.anonymousCookie]?.value ?? ""
        var newToken: String?
        if csrf.isEmpty || csrf.utf8.count > 128 {
            csrf = Self.randomToken()
            newToken = csrf
        }
        let anonymous = cookies[Self.anonymousCookie]?.value
        let client = configuration.clientAddresses.client(peer: context.remoteAddress,
                                                          forwardedFor: request.headers[values: HTTPField.Name("X-Forwarded-For")!])
        return Visitor(language: language, account: account, session: session, csrf: csrf, newAnonymousToken: newToken,
                       anonymousToken: anonymous.flatMap { $0.isEmpty || $0.utf8.count > 128 ? nil : $0 }, path: request.uri.path, client: client)
    }

    /// The first language in `Accept-Language` (by q-value) that the portal speaks; English otherwise.
    static func language(acceptLanguage: String?) -> NotificationLanguage {
        guard let header = acceptLanguage else { return .english }
        var best: (NotificationLanguage, Double)?
        for part in header.split(separator: ",") {
            let pieces = part.split(separator: ";")
            let tag = pieces.first.map { String($0).trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            var quality = 1.0
            for parameter in pieces.dropFirst() {
                let trimmed = parameter.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("q="), let value = Double(trimmed.dropFirst(2)) { quality = value }
            }
            let language: NotificationLanguage? = tag.hasPrefix("zh") ? (tag.contains("hant") || tag == "zh-tw" || tag == "zh-hk" ? nil : .simplifiedChinese)
                : tag.hasPrefix("en") ? .english : nil
            if let language, quality > 0, quality > (best?.1 ?? -1) { best = (language, quality) }
        }
        return best?.0 ?? .english
    }

    /// A new random token (CSRF, a review page's order key): the maker of session tokens.
    static func randomToken() -> String { AccountStore.randomToken() }

    /// The form fields of a POST, after checking its CSRF token (constant time) against the visitor's.
    func form(_ request: Request, _ visitor: Visitor) async throws -> [String: String] {
        // A declared length over the limit is refused unread; a body that grows past it (chunked) stops there.
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > Self.maxFormBytes { throw PortalRefusal.formTooLarge }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: Self.maxFormBytes) } catch is NIOTooManyBytesError { throw PortalRefusal.formTooLarge }
        let fields = PortalForm.parse(String(buffer: body))
        guard let sent = fields["csrf"], !sent.isEmpty, visitor.newAnonymousToken == nil,
              ConstantTime.equal(sent.utf8, visitor.csrf.utf8) || visitor.anonymousToken.map({ ConstantTime.equal(sent.utf8, $0.utf8) }) == true
        else { throw PortalRefusal.csrf }
        return fields
    }

    /// The locale a page's model is built in.
    func locale(_ visitor: Visitor) -> PortalLocale { PortalLocale(strings: resources.strings, language: visitor.language) }

    /// The layout around a page: strings, language, navigation, the signed-in number and the CSRF token.
    func layout(_ template: String, _ visitor: Visitor, title: String, refresh: Bool = false) -> PortalLayout {
        PortalLayout(t: resources.strings.escapedTable(visitor.language), lang: visitor.language.rawValue,
                     title: resources.strings.text(title, visitor.language), csrf: visitor.csrf, path: visitor.path,
                     accountPhone: visitor.account?.phone.e164, isEnglish: visitor.language == .english,
                     isChinese: visitor.language == .simplifiedChinese, nav: PortalNavigation(template: template), refresh: refresh)
    }

    /// Renders `template` with `model`, the layout and the flash around it.
    func page<Model: Sendable>(_ template: String, _ visitor: Visitor, title: String, status: HTTPResponse.Status = .ok, model: Model,
                               flash: PortalFlash = .none, refresh: Bool = false) -> Response {
        let view = PortalPage(layout: layout(template, visitor, title: title, refresh: refresh), flash: flash, model: model)
        let html = resources.templates.render(template, view)
        var response = Response(status: status, headers: Self.pageHeaders(contentType: "text/html; charset=utf-8"),
                                body: .init(byteBuffer: ByteBuffer(string: html)))
        setAnonymousCookie(&response, visitor)
        return response
    }

    /// A page with no model of its own beyond the layout: an error page.
    func page(_ template: String, _ visitor: Visitor, title: String, status: HTTPResponse.Status = .ok, error: String? = nil,
              notice: String? = nil) -> Response {
        page(template, visitor, title: title, status: status, model: EmptyPortalView(), flash: PortalFlash(error: error, notice: notice))
    }

    static func pageHeaders(contentType: String) -> HTTPFields {
        [
            .contentType: contentType,
            .cacheControl: "no-store",
            .init("Content-Security-Policy")!: "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            .init("X-Frame-Options")!: "DENY",
            .init("X-Content-Type-Options")!: "nosniff",
            .init("Referrer-Policy")!: "same-origin",
        ]
    }

    func setAnonymousCookie(_ response: inout Response, _ visitor: Visitor) {
        if let token = visitor.newAnonymousToken {
            response.setCookie(cookie(Self.anonymousCookie, token, sameSite: .strict))
        }
    }

    func cookie(_ name: String, _ value: String, maxAge: Int? = nil, sameSite: Cookie.SameSite = .lax) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: configuration.secureCookies, httpOnly: true, sameSite: sameSite)
    }

    func redirect(_ location: String, _ visitor: Visitor? = nil) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
        if let visitor { setAnonymousCookie(&response, visitor) }
        return response
    }

    /// Runs a page handler; redirects and refusals become responses, and any other error a localized error page
    /// (its detail goes to the log, not the page).
    func wrap(_ handler: @escaping @Sendable (Request, Visitor) async throws -> Response)
        -> @Sendable (Request, RechargeRequestContext) async throws -> Response {
        { request, context in
            let visitor: Visitor
            do {
                visitor = try await self.visitor(request, context: context)
            } catch {
                context.logger.error("portal: cannot read the session", metadata: ["error": "\(error)"])
                return page("error", Visitor(language: .english, csrf: "", path: request.uri.path), title: "error_title",
                            status: .serviceUnavailable, error: resources.strings.text("error_unavailable", .english))
            }
            do {
                return try await handler(request, visitor)
            } catch let redirect as PortalRedirect {
                return self.redirect(redirect.location, visitor)
            } catch {
                let refusal = refusal(for: error, logger: context.logger)
                var response = page("error", visitor, title: "error_title", status: refusal.status,
                                    error: resources.strings.text(refusal.key, visitor.language, refusal.values))
                if let seconds = refusal.retryAfter { response.headers[.retryAfter] = String(seconds) }
                return response
            }
        }
    }

    /// The localized refusal for an error a store or a form threw.
    func refusal(for error: any Error, logger: Logger) -> PortalRefusal {
        switch error {
        case let refusal as PortalRefusal:
            return refusal
        case let error as AccountError:
            switch error {
            case .codeInvalid: return PortalRefusal(status: .unprocessableContent, key: "error_code_invalid")
            case .tooManyCodes(let seconds):
                return PortalRefusal(status: .tooManyRequests, key: "error_too_many_codes",
                                     values: ["minutes": String(max(1, (seconds + 59) / 60))], retryAfter: seconds)
            case .lineTaken: return PortalRefusal(status: .conflict, key: "error_line_taken")
            case .lineNotOnAccount, .accountNotFound: return .notFound
            // Pages answer a spent budget as a code sent (``CodeDelivery``); reaching here is a page that forgot to.
            case .codeBudgetSpent: return PortalRefusal(status: .tooManyRequests, key: "error_too_many_codes", values: ["minutes": "60"], retryAfter: 3600)
            case .smsNumberNotVerified: return PortalRefusal(status: .unprocessableContent, key: "renew_sms_error_unverified")
            }
        case let amount as CustomAmountRefusal:
            let (key, values) = Self.amountMessage(amount)
            return PortalRefusal(status: .unprocessableContent, key: key, values: values)
        case let busy as BcryptQueue.Busy:
            return PortalRefusal(status: .tooManyRequests, key: "error_busy", retryAfter: busy.retryAfterSeconds)
        case is NIOTooManyBytesError:
            return .formTooLarge
        case let error as VoucherError:
            switch error {
            case .malformedPIN: return PortalRefusal(status: .badRequest, key: "error_pin_malformed")
            case .malformedSerial: return PortalRefusal(status: .badRequest, key: "redeem2_error_serial_malformed")
            // The portal always sends the card number with the PIN: one message for a wrong pair, whichever half.
            case .invalidPIN: return PortalRefusal(status: .unprocessableContent, key: "redeem2_error_pair")
            case .alreadyRedeemed: return PortalRefusal(status: .conflict, key: "error_pin_used")
            case .expired: return PortalRefusal(status: .unprocessableContent, key: "error_pin_expired")
            case .notActive, .blocked: return PortalRefusal(status: .unprocessableContent, key: "error_pin_not_active")
            case .currencyMismatch: return PortalRefusal(status: .unprocessableContent, key: "error_pin_currency")
            case .lockedOut(_, let until), .channelPaused(_, let until):
                let seconds = max(1, Int(until.timeIntervalSince(clock()).rounded(.up)))
                return PortalRefusal(status: .tooManyRequests, key: "error_pin_locked", values: ["minutes": String(max(1, (seconds + 59) / 60))],
                                     retryAfter: seconds)
            default: return PortalRefusal(status: .unprocessableContent, key: "error_pin_invalid")
            }
        case let error as RechargeError:
            switch error {
            case .invalidMSISDN: return PortalRefusal(status: .badRequest, key: "error_phone_invalid")
            case .lineNotFound, .orderNotFound: return .notFound
            case .lineNotActive: return PortalRefusal(status: .conflict, key: "error_line_not_active")
            case .promotionUnavailable: return PortalRefusal(status: .unprocessableContent, key: "error_promotion")
            case .productNotFound: return PortalRefusal(status: .unprocessableContent, key: "error_product")
            case .paymentMethodUnavailable: return PortalRefusal(status: .unprocessableContent, key: "error_method")
            case .invalidAmount, .nonPositiveAmount, .amountOverflow: return PortalRefusal(status: .badRequest, key: "error_amount")
            default:
                logger.notice("portal: request refused", metadata: ["code": "\(error.code)", "detail": "\(error.detail)"])
                return PortalRefusal(status: Problem.status(for: error), key: "error_generic")
            }
        default:
            logger.error("portal: request failed", metadata: ["error": "\(error)"])
            return PortalRefusal(status: .internalServerError, key: "error_unavailable")
        }
    }

    /// The localized text for a refusal, to show above the form that caused it.
    func message(for error: any Error, _ visitor: Visitor, logger: Logger) -> (PortalRefusal, String) {
        let refusal = refusal(for: error, logger: logger)
        return (refusal, resources.strings.text(refusal.key, visitor.language, refusal.values))
    }

    // MARK: Pages every visitor sees

    @Sendable func home(_ request: Request, _ visitor: Visitor) async throws -> Response {
        redirect(visitor.account == nil ? "/login" : "/dashboard", visitor)
    }

    @Sendable func stylesheet(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                 body: .init(byteBuffer: ByteBuffer(string: resources.templates.stylesheet)))
    }

    @Sendable func script(_ request: Request, context: RechargeRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=3600"],
                 body: .init(byteBuffer: ByteBuffer(string: resources.templates.script)))
    }

    /// Remembers the chosen language in a cookie (a year), and on the account so its notices follow.
    @Sendable func switchLanguage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        guard let language = fields["language"].flatMap(NotificationLanguage.init(rawValue:)) else { throw PortalRefusal(status: .badRequest, key: "error_generic") }
        if let account = visitor.account {
            _ = try await accounts.setLanguage(accountID: account.id, language: language, now: clock())
        }
        var response = redirect(Self.localPath(fields["next"]) ?? "/", visitor)
        response.setCookie(cookie(Self.languageCookie, language.rawValue, maxAge: 365 * 86_400))
        return response
    }

    /// `path` when it is a path on this site (`/…`, not `//host…`), for redirects after a form.
    static func localPath(_ path: String?) -> String? {
        guard let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\"), path.utf8.count <= 512,
              !path.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) else { return nil }
        return path
    }
}

/// `application/x-www-form-urlencoded` bodies and query strings.
enum PortalForm {
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }

    static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
