import Foundation
import RechargeCore

/// The view models of the pages a visitor sees before signing in, and of the code pages. Each is built by a pure
/// function from what the handler read and the visitor's ``PortalLocale``.

/// `login.mustache`.
struct LoginView: Sendable {
    let phone: String
    /// Where to go after signing in; empty for the dashboard.
    let next: String
}

/// `register.mustache` and `reset.mustache`: the number a code is asked for.
struct PhoneFormView: Sendable {
    let phone: String
}

/// `register_verify.mustache`.
struct RegisterVerifyView: Sendable {
    let phone: String
    let email: String
    let sentTo: String

    static func make(phone: String, email: String, _ locale: PortalLocale) -> RegisterVerifyView {
        RegisterVerifyView(phone: phone, email: email, sentTo: locale.text("code_sent_to", ["target": PortalController.masked(phone: phone)]))
    }
}

/// `reset_verify.mustache`: says a code was sent only if the number has an account.
struct ResetVerifyView: Sendable {
    let phone: String
    let sentTo: String

    static func make(phone: String, _ locale: PortalLocale) -> ResetVerifyView {
        ResetVerifyView(phone: phone, sentTo: locale.text("code_sent_if_registered", ["target": PortalController.masked(phone: phone)]))
    }
}

/// `settings_verify.mustache`: the code sent to a new notice number, address or line.
struct CodeVerifyView: Sendable {
    /// The form's action: the path the code page was shown at.
    let action: String
    /// The hidden field's name (`phone`, `email`, `msisdn`) and value.
    let field: String
    let value: String
    let sentTo: String

    static func make(action: String, field: String, value: String, _ locale: PortalLocale) -> CodeVerifyView {
        let masked = field == "email" ? NotificationPreferences.masked(email: value) : PortalController.masked(phone: value)
        return CodeVerifyView(action: action, field: field, value: value, sentTo: locale.text("code_sent_to", ["target": masked]))
    }
}
