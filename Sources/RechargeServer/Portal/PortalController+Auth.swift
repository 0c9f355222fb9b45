import Foundation
import Hummingbird
import RechargeCore
import RechargeStore

/// Registration, login, logout and password reset. No answer says whether a number has an account: registration
/// always answers as if it sent a code (which cannot register a number that already has one), a reset answers the
/// same whether or not it sent one, and a failed login says only that the number or the password is wrong — after
/// the same bcrypt work either way.
///
/// What an anonymous request may cost is bounded before anything expensive runs: text that is not a phone number
/// is a form error (no bcrypt, no throttle row); codes are texted only to numbers this operator serves and within
/// the budgets of ``SMSCodeBudget``; a code is checked before a new password is hashed; and every bcrypt goes
/// through ``BcryptQueue``.
extension PortalController {
    /// Shortest and longest password accepted (bcrypt reads at most 72 bytes).
    static let passwordBytes = 8...72

    func addAuthRoutes(to router: Router<RechargeRequestContext>) {
        router.get("login", use: wrap(loginPage))
        router.post("login", use: wrap(login))
        router.post("logout", use: wrap(logout))
        router.get("register", use: wrap(registerPage))
        router.post("register", use: wrap(register))
        router.get("register/verify", use: wrap(registerVerifyPage))
        router.post("register/verify", use: wrap(registerVerify))
        router.get("reset", use: wrap(resetPage))
        router.post("reset", use: wrap(reset))
        router.get("reset/verify", use: wrap(resetVerifyPage))
        router.post("reset/verify", use: wrap(resetVerify))
    }

    @Sendable func loginPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        if visitor.account != nil { return redirect("/dashboard", visitor) }
        let query = request.uri.queryParameters
        var notice: String?
        if query.get("registered") != nil { notice = text("notice_registered", visitor) }
        if query.get("email") != nil { notice = text("notice_registered_email", visitor) }
        if query.get("reset") != nil { notice = text("notice_password_reset", visitor) }
        return loginForm(visitor, phone: query.get("phone") ?? "", next: Self.localPath(query.get("next")), notice: notice)
    }

    func loginForm(_ visitor: Visitor, phone: String, next: String?, status: HTTPResponse.Status = .ok, error: String? = nil, notice: String? = nil) -> Response {
        page("login", visitor, title: "login_title", status: status, model: LoginView(phone: phone, next: next ?? ""),
             flash: PortalFlash(error: error, notice: notice))
    }

    @Sendable func login(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        let typed = fields["phone"] ?? ""
        let password = fields["password"] ?? ""
        let next = Self.localPath(fields["next"])
        let now = clock()
        // Junk is a form error before anything is counted or hashed: a throttle keyed by typed text gave each random
        // string a fresh allowance of bcrypt work.
        guard let phone = try? MSISDN(typed) else {
            return loginForm(visitor, phone: typed, next: next, status: .badRequest, error: text("error_phone_invalid", visitor))
        }
        let lockout = configuration.loginLockout
        // Counted by (number, client address): a stranger's failures lock the stranger; the number's own much
        // higher count bounds guesses spread over many addresses, and the address's count across numbers bounds the
        // bcrypt one address can cause with a fresh valid number each time. Registered or not, a number behaves the same.
        if let until = try await accounts.loginLockedUntil(phone: phone, client: visitor.client, now: now) {
            return locked(visitor, phone: typed, next: next, until: until, now: now)
        }
        // The attempt counts as a failure before the password is checked (a success gives it back): attempts sent in
        // parallel each take a number from one atomic counter, so no more than the policy allows reach bcrypt.
        if let until = try await accounts.recordLoginFailure(phone: phone, client: visitor.client, policy: lockout, now: now) {
            return locked(visitor, phone: typed, next: next, until: until, now: now)
        }
        let credentials = try await accounts.credentials(phone: phone)
        // A number without an account costs the same bcrypt work as a wrong password.
        let hash: String
        if let stored = credentials?.passwordHash { hash = stored } else { hash = try await dummyHash() }
        let matches = try await verifyPassword(password, hash: hash)
        guard let account = credentials?.account, matches, Self.passwordBytes.contains(password.utf8.count) else {
            // 200, not 401: a form page, and 401 would need a WWW-Authenticate challenge no browser could answer.
            return loginForm(visitor, phone: typed, next: next, error: text("error_login_failed", visitor))
        }
        try await accounts.recordLoginSuccess(phone: phone, client: visitor.client)
        // A new session on every login (the token a visitor had before is never promoted).
        let session = try await accounts.createSession(accountID: account.id, replacing: request.cookies[Self.sessionCookie]?.value, now: now)
        var response = redirect(next ?? "/dashboard")
        response.setCookie(cookie(Self.sessionCookie, session.token, maxAge: Int(AccountStore.sessionLifetime)))
        return response
    }

    func locked(_ visitor: Visitor, phone: String, next: String?, until: Date, now: Date) -> Response {
        let seconds = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
        var response = loginForm(visitor, phone: phone, next: next, status: .tooManyRequests,
                                 error: text("error_login_locked", visitor, ["minutes": String((seconds + 59) / 60)]))
        response.headers[.retryAfter] = String(seconds)
        return response
    }

    @Sendable func logout(_ request: Request, _ visitor: Visitor) async throws -> Response {
        _ = try await form(request, visitor)
        if let token = request.cookies[Self.sessionCookie]?.value { try await accounts.endSession(token: token) }
        var response = redirect("/login")
        response.setCookie(cookie(Self.sessionCookie, "", maxAge: 0))
        return response
    }

    // MARK: Registration

    @Sendable func registerPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        page("register", visitor, title: "register_title", model: PhoneFormView(phone: request.uri.queryParameters.get("phone") ?? ""))
    }

    @Sendable func register(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        let typed = fields["phone"] ?? ""
        do {
            let phone = try MSISDN(typed)
            // Sent whether or not the number has an account: a code cannot register a number twice, and the
            // answer is the same either way — and the same again when the code is withheld (a number this operator
            // does not serve, a budget spent).
            do {
                _ = try await sendCode(.register, to: phone.e164, accountID: nil, language: visitor.language, client: visitor.client, servedOnly: true)
            } catch AccountError.tooManyCodes {
                // Only a number that is sent codes can reach its own limit: a 429 here would tell served from not.
                logger.notice("portal: register codes limited", metadata: ["phone": "\(phone.e164)"])
            }
            return redirect("/register/verify?phone=" + PortalForm.encode(phone.e164), visitor)
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            return page("register", visitor, title: "register_title", status: refusal.status, model: PhoneFormView(phone: typed),
                        flash: PortalFlash(error: message))
        }
    }

    @Sendable func registerVerifyPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let phone = try MSISDN(request.uri.queryParameters.get("phone") ?? "")
        return registerVerifyForm(visitor, phone: phone.e164, email: "")
    }

    func registerVerifyForm(_ visitor: Visitor, phone: String, email: String, status: HTTPResponse.Status = .ok, error: String? = nil) -> Response {
        page("register_verify", visitor, title: "register_title", status: status,
             model: RegisterVerifyView.make(phone: phone, email: email, locale(visitor)), flash: PortalFlash(error: error))
    }

    @Sendable func registerVerify(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        let phone = try MSISDN(fields["phone"] ?? "")
        let code = Self.digits(fields["code"])
        let password = fields["password"] ?? ""
        let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespaces)
        guard Self.passwordBytes.contains(password.utf8.count) else {
            return registerVerifyForm(visitor, phone: phone.e164, email: email, status: .badRequest, error: text("error_password_length", visitor))
        }
        if !email.isEmpty {
            do { try NotificationPreferences.validate(email: email) } catch {
                return registerVerifyForm(visitor, phone: phone.e164, email: email, status: .badRequest, error: text("error_email_invalid", visitor))
            }
        }
        do {
            // The code first: a wrong one costs a row read, not a bcrypt hash.
            guard try await accounts.checkCode(.register, target: phone.e164, accountID: nil, code: code, now: clock()) else { throw AccountError.codeInvalid }
            let hash = try await hashPassword(password)
            let account = try await accounts.register(phone: phone, code: code, passwordHash: hash, email: nil, language: visitor.language, now: clock())
            if !email.isEmpty {
                // The address counts once its own code comes back: after logging in, the page that takes it.
                _ = try await sendCode(.changeEmail, to: email, accountID: account.id, language: visitor.language, client: visitor.client, servedOnly: true)
                let verify = "/settings/email/verify?email=" + PortalForm.encode(email)
                return redirect("/login?email=1&phone=" + PortalForm.encode(phone.e164) + "&next=" + PortalForm.encode(verify), visitor)
            }
            return redirect("/login?registered=1&phone=" + PortalForm.encode(phone.e164), visitor)
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            return refusal.retrying(registerVerifyForm(visitor, phone: phone.e164, email: email, status: refusal.status, error: message))
        }
    }

    // MARK: Password reset

    @Sendable func resetPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        page("reset", visitor, title: "reset_title", model: PhoneFormView(phone: request.uri.queryParameters.get("phone") ?? ""))
    }

    @Sendable func reset(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        let typed = fields["phone"] ?? ""
        let phone: MSISDN
        do { phone = try MSISDN(typed) } catch {
            return page("reset", visitor, title: "reset_title", status: .badRequest, model: PhoneFormView(phone: typed),
                        flash: PortalFlash(error: text("error_phone_invalid", visitor)))
        }
        if let account = try await accounts.credentials(phone: phone)?.account {
            do {
                // The same rules as registration: served numbers only, within the budgets; withheld answers alike.
                _ = try await sendCode(.passwordReset, to: phone.e164, accountID: account.id, language: account.language,
                                       client: visitor.client, servedOnly: true)
            } catch AccountError.tooManyCodes {
                // Said nowhere: a number without an account gets no code and no limit, so this one answers alike.
                logger.notice("portal: password reset codes limited", metadata: ["phone": "\(phone.e164)"])
            }
        }
        return redirect("/reset/verify?phone=" + PortalForm.encode(phone.e164), visitor)
    }

    @Sendable func resetVerifyPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let phone = try MSISDN(request.uri.queryParameters.get("phone") ?? "")
        return resetVerifyForm(visitor, phone: phone.e164)
    }

    func resetVerifyForm(_ visitor: Visitor, phone: String, status: HTTPResponse.Status = .ok, error: String? = nil) -> Response {
        page("reset_verify", visitor, title: "reset_title", status: status, model: ResetVerifyView.make(phone: phone, locale(visitor)),
             flash: PortalFlash(error: error))
    }

    @Sendable func resetVerify(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let fields = try await form(request, visitor)
        let phone = try MSISDN(fields["phone"] ?? "")
        let password = fields["password"] ?? ""
        guard Self.passwordBytes.contains(password.utf8.count) else {
            return resetVerifyForm(visitor, phone: phone.e164, status: .badRequest, error: text("error_password_length", visitor))
        }
        let code = Self.digits(fields["code"])
        do {
            // The code first: a wrong one costs a row read, not a bcrypt hash.
            guard try await accounts.checkCode(.passwordReset, target: phone.e164, accountID: nil, code: code, now: clock()) else { throw AccountError.codeInvalid }
            let hash = try await hashPassword(password)
            // Also the unlock: the number's lock and this client's count are cleared with the new password.
            try await accounts.resetPassword(phone: phone, code: code, passwordHash: hash, client: visitor.client, now: clock())
            return redirect("/login?reset=1&phone=" + PortalForm.encode(phone.e164), visitor)
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            return refusal.retrying(resetVerifyForm(visitor, phone: phone.e164, status: refusal.status, error: message))
        }
    }

    // MARK: Small helpers

    func text(_ key: String, _ visitor: Visitor, _ values: [String: String] = [:]) -> String {
        resources.strings.text(key, visitor.language, values)
    }

    /// A typed code with spaces or dashes dropped.
    static func digits(_ text: String?) -> String {
        String((text ?? "").filter { $0.isASCII && $0.isNumber })
    }

    /// `+1••••••0100`: enough to recognise one's own number.
    static func masked(phone: String) -> String {
        guard phone.count > 6 else { return phone }
        return String(phone.prefix(2)) + String(repeating: "•", count: phone.count - 6) + String(phone.suffix(4))
    }
}
