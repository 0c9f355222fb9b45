import Foundation
import Hummingbird
import RechargeCore
import RechargeStore

/// Settings: language, the phone number and email notices go to (each changed only with a code sent to the new
/// one), the password, and the lines on the account (each added only with a code sent to that line).
extension PortalController {
    func addSettingsRoutes(to router: Router<RechargeRequestContext>) {
        router.get("settings", use: wrap(settingsPage))
        router.post("settings/language", use: wrap(switchLanguage))
        router.post("settings/password", use: wrap(changePassword))
        router.post("settings/phone", use: wrap(startPhoneChange))
        router.get("settings/phone/verify", use: wrap(verifyPage))
        router.post("settings/phone/verify", use: wrap(finishPhoneChange))
        router.post("settings/email", use: wrap(startEmailChange))
        router.get("settings/email/verify", use: wrap(verifyPage))
        router.post("settings/email/verify", use: wrap(finishEmailChange))
        router.post("settings/lines", use: wrap(startAddLine))
        router.get("settings/lines/verify", use: wrap(verifyPage))
        router.post("settings/lines/verify", use: wrap(finishAddLine))
        router.post("settings/lines/remove", use: wrap(removeLine))
        router.post("settings/sms-number", use: wrap(setSMSNumber))
    }

    @Sendable func settingsPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let query = request.uri.queryParameters
        return try await settingsForm(visitor, notice: query.get("saved") != nil ? text("notice_saved", visitor)
                                        : query.get("noLines") != nil ? text("notice_no_lines", visitor) : nil)
    }

    func settingsForm(_ visitor: Visitor, status: HTTPResponse.Status = .ok, error: String? = nil, notice: String? = nil) async throws -> Response {
        let account = try requireAccount(visitor)
        let lines = try await accounts.lines(accountID: account.id)
        var smsPhones: [MSISDN: String] = [:]
        for line in lines { smsPhones[line] = try await services.notificationPreferences.preferences(line).smsPhone }
        let view = SettingsView.make(account, lines: lines, smsPhones: smsPhones, locale(visitor))
        return page("settings", visitor, title: "settings_title", status: status, model: view, flash: PortalFlash(error: error, notice: notice))
    }

    func settingsRefusal(_ error: any Error, _ visitor: Visitor) async throws -> Response {
        let (refusal, message) = message(for: error, visitor, logger: logger)
        return refusal.retrying(try await settingsForm(visitor, status: refusal.status, error: message))
    }

    @Sendable func changePassword(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let current = fields["currentPassword"] ?? ""
        let new = fields["newPassword"] ?? ""
        guard let stored = try await accounts.credentials(phone: account.phone), try await verifyPassword(current, hash: stored.passwordHash) else {
            return try await settingsForm(visitor, status: .unprocessableContent, error: text("error_current_password", visitor))
        }
        guard Self.passwordBytes.contains(new.utf8.count) else {
            return try await settingsForm(visitor, status: .badRequest, error: text("error_password_length", visitor))
        }
        try await accounts.changePassword(accountID: account.id, passwordHash: try await hashPassword(new), keepingSession: visitor.session?.token ?? "", now: clock())
        return redirect("/settings?saved=1")
    }

    // MARK: Codes to a new contact or a line

    /// The page that takes the code sent to a new number, address or line.
    @Sendable func verifyPage(_ request: Request, _ visitor: Visitor) async throws -> Response {
        _ = try requireAccount(visitor)
        let path = request.uri.path
        let query = request.uri.queryParameters
        let (field, value): (String, String)
        if path.hasSuffix("email/verify") {
            field = "email"
            value = query.get("email") ?? ""
            do { try NotificationPreferences.validate(email: value) } catch { throw PortalRefusal(status: .badRequest, key: "error_email_invalid") }
        } else {
            field = path.hasSuffix("lines/verify") ? "msisdn" : "phone"
            value = try MSISDN(query.get(field) ?? "").e164
        }
        return verifyForm(visitor, action: path, field: field, value: value)
    }

    func verifyForm(_ visitor: Visitor, action: String, field: String, value: String, status: HTTPResponse.Status = .ok, error: String? = nil) -> Response {
        page("settings_verify", visitor, title: "settings_title", status: status,
             model: CodeVerifyView.make(action: action, field: field, value: value, locale(visitor)), flash: PortalFlash(error: error))
    }

    @Sendable func startPhoneChange(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        do {
            let phone = try MSISDN(fields["notifyPhone"] ?? "")
            // Any number may receive notices (a family member abroad), so no destination rule; the budgets hold.
            _ = try await sendCode(.changePhone, to: phone.e164, accountID: account.id, language: visitor.language, client: visitor.client, servedOnly: false)
            return redirect("/settings/phone/verify?phone=" + PortalForm.encode(phone.e164))
        } catch {
            return try await settingsRefusal(error, visitor)
        }
    }

    @Sendable func finishPhoneChange(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let phone = try MSISDN(fields["phone"] ?? "")
        return await confirm(visitor, action: "/settings/phone/verify", field: "phone", value: phone.e164) {
            _ = try await accounts.changeNotifyPhone(accountID: account.id, phone: phone, code: Self.digits(fields["code"]), now: clock())
        }
    }

    /// Applies a change that consumes the code just entered: to the settings page when done, else the code's page
    /// again with the reason.
    func confirm(_ visitor: Visitor, action: String, field: String, value: String, _ apply: () async throws -> Void) async -> Response {
        do {
            try await apply()
            return redirect("/settings?saved=1")
        } catch {
            let (refusal, message) = message(for: error, visitor, logger: logger)
            return refusal.retrying(verifyForm(visitor, action: action, field: field, value: value, status: refusal.status, error: message))
        }
    }

    @Sendable func startEmailChange(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespaces)
        do { try NotificationPreferences.validate(email: email) } catch {
            return try await settingsForm(visitor, status: .badRequest, error: text("error_email_invalid", visitor))
        }
        do {
            _ = try await sendCode(.changeEmail, to: email, accountID: account.id, language: visitor.language, client: visitor.client, servedOnly: false)
            return redirect("/settings/email/verify?email=" + PortalForm.encode(email))
        } catch {
            return try await settingsRefusal(error, visitor)
        }
    }

    @Sendable func finishEmailChange(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let email = fields["email"] ?? ""
        return await confirm(visitor, action: "/settings/email/verify", field: "email", value: email) {
            try NotificationPreferences.validate(email: email)
            _ = try await accounts.changeEmail(accountID: account.id, email: email, code: Self.digits(fields["code"]), now: clock())
        }
    }

    /// One answer for every number: the code page. A code is texted only to a line no account holds; a number that
    /// is no line, a line another account holds (or this one), and a line sent too many codes get no code and the
    /// same page, whose check then fails like a wrong code. Telling them apart would let any account map which
    /// numbers are the operator's and which are registered.
    @Sendable func startAddLine(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn: MSISDN
        do { msisdn = try MSISDN(fields["msisdn"] ?? "") } catch {
            return try await settingsRefusal(error, visitor)
        }
        if try await accounts.isUnheldLine(msisdn) {
            do {
                _ = try await sendCode(.addLine, to: msisdn.e164, accountID: account.id, language: visitor.language, client: visitor.client, servedOnly: true)
            } catch AccountError.tooManyCodes {
                logger.notice("portal: add-line codes limited", metadata: ["msisdn": "\(msisdn.e164)"])
            }
        }
        return redirect("/settings/lines/verify?msisdn=" + PortalForm.encode(msisdn.e164))
    }

    @Sendable func finishAddLine(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let msisdn = try MSISDN(fields["msisdn"] ?? "")
        return await confirm(visitor, action: "/settings/lines/verify", field: "msisdn", value: msisdn.e164) {
            do {
                try await accounts.addLine(accountID: account.id, msisdn: msisdn, code: Self.digits(fields["code"]), now: clock())
            } catch RechargeError.lineNotFound, AccountError.lineTaken {
                // Answered like a wrong code (see startAddLine).
                throw AccountError.codeInvalid
            }
        }
    }

    /// Which number gets a line's SMS notices: one of the account's lines or its verified notification phone, picked
    /// from the list the page offers. Another number must first be verified with a code (the "phone number for SMS
    /// notices" form); anything not offered is refused and changes nothing.
    @Sendable func setSMSNumber(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        let line = try await ownedLine(fields["line"], account)
        do {
            _ = try await accounts.setSMSNumber(accountID: account.id, line: line, to: try MSISDN(fields["to"] ?? ""), now: clock())
            return redirect("/settings?saved=1")
        } catch {
            return try await settingsRefusal(error, visitor)
        }
    }

    @Sendable func removeLine(_ request: Request, _ visitor: Visitor) async throws -> Response {
        let account = try requireAccount(visitor)
        let fields = try await form(request, visitor)
        try await accounts.removeLine(accountID: account.id, msisdn: try MSISDN(fields["msisdn"] ?? ""), now: clock())
        return redirect("/settings?saved=1")
    }
}
