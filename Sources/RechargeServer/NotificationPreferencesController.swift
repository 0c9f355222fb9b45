import Foundation
import Hummingbird
import RechargeCore
import RechargeStore

/// `GET/PUT /v1/lines/{msisdn}/notification-preferences`: how a line is notified. Both need the `write` scope:
/// the preferences hold the subscriber's email address.
struct NotificationPreferencesController {
    let store: NotificationPreferencesStore
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let write = group.requiring(.write)
        write.get("lines/{msisdn}/notification-preferences", use: get)
        write.put("lines/{msisdn}/notification-preferences", use: put)
    }

    @Sendable func get(_ request: Request, context: RechargeRequestContext) async throws -> NotificationPreferencesOutput {
        return NotificationPreferencesOutput(try await store.preferences(try context.msisdn()))
    }

    @Sendable func put(_ request: Request, context: RechargeRequestContext) async throws -> NotificationPreferencesOutput {
        let msisdn = try context.msisdn()
        let body = try await JSONBody.decode(NotificationPreferencesRequest.self, from: request, context: context)
        let preferences = try body.preferences()
        return NotificationPreferencesOutput(try await store.replace(msisdn, with: preferences, now: clock()))
    }
}

/// The whole set of preferences; `email` absent or null means the subscriber's address.
struct NotificationPreferencesRequest: StrictlyDecodable {
    let smsEnabled: Bool
    let emailEnabled: Bool
    let email: String?
    let language: String
    let lowBalanceThreshold: MoneyInput

    static let allowedFields: [String: Set<String>] = [
        "": ["smsEnabled", "emailEnabled", "email", "language", "lowBalanceThreshold"],
        "lowBalanceThreshold": MoneyInput.fields,
    ]

    func preferences() throws(RechargeError) -> NotificationPreferences {
        guard let language = NotificationLanguage(rawValue: language) else {
            throw .invalidRequest("language must be one of \(NotificationLanguage.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return try NotificationPreferences(
            smsEnabled: smsEnabled, emailEnabled: emailEnabled, email: email, language: language,
            lowBalanceThreshold: try lowBalanceThreshold.money())
    }
}

/// Both routes answer the whole set, `200`, encoded like every other API body (``JSONResponse``).
struct NotificationPreferencesOutput: Encodable, ResponseGenerator {
    let msisdn: String
    let smsEnabled: Bool
    let emailEnabled: Bool
    let email: String?
    let language: String
    let lowBalanceThreshold: MoneyOutput

    init(_ preferences: EffectiveNotificationPreferences) {
        msisdn = preferences.msisdn
        smsEnabled = preferences.smsEnabled
        emailEnabled = preferences.emailEnabled
        email = preferences.email
        language = preferences.language.rawValue
        lowBalanceThreshold = MoneyOutput(preferences.lowBalanceThreshold)
    }

    private enum CodingKeys: String, CodingKey { case msisdn, smsEnabled, emailEnabled, email, language, lowBalanceThreshold }

    /// `email` is written as null when there is none, so every field is always present.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(msisdn, forKey: .msisdn)
        try container.encode(smsEnabled, forKey: .smsEnabled)
        try container.encode(emailEnabled, forKey: .emailEnabled)
        try container.encode(email, forKey: .email)
        try container.encode(language, forKey: .language)
        try container.encode(lowBalanceThreshold, forKey: .lowBalanceThreshold)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(self)
    }
}
