import Foundation
import Hummingbird
import Mustache
import RechargeCore
import RechargeNotifications
import RechargeStore

/// The outbox for operators: `GET /v1/outbox?state=&limit=` (JSON) and `GET /dev/outbox` (a plain HTML page
/// with the latest 100 messages and their rendered text). Both need an admin API key.
struct OutboxController {
    let outbox: OutboxStore
    let renderer: NotificationRenderer?
    /// `outbox.mustache` (``OutboxPage``); nil when it cannot be loaded, and the page answers 503.
    let page: MustacheTemplate?

    /// `dev` is nil unless the `/dev` pages are on (`--demo` or `--dev-pages`).
    func addRoutes(v1: RouterGroup<RechargeRequestContext>, dev: RouterGroup<RechargeRequestContext>?) {
        v1.requiring(.admin).get("outbox", use: list)
        dev?.requiring(.admin).get("outbox", use: devPage)
    }

    @Sendable func list(_ request: Request, context: RechargeRequestContext) async throws -> OutboxListOutput {
        let state = try Self.state(request.uri.queryParameters.get("state"))
        let limitText = request.uri.queryParameters.get("limit") ?? "100"
        guard let limit = Int(limitText), (1...1000).contains(limit) else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "Invalid request",
                          detail: "limit must be a whole number from 1 to 1000, not '\(limitText)'.", field: "limit")
        }
        let messages = try await outbox.list(state: state, limit: limit)
        return OutboxListOutput(items: messages.map { OutboxItemOutput($0, rendered: render($0)) })
    }

    @Sendable func devPage(_ request: Request, context: RechargeRequestContext) async throws -> OutboxPage {
        let state = try Self.state(request.uri.queryParameters.get("state"))
        guard let page else {
            throw Problem(status: .serviceUnavailable, code: "unavailable", title: "Unavailable", detail: "The outbox page's template cannot be loaded.")
        }
        let messages = try await outbox.list(state: state, limit: 100)
        let view = OutboxPage.view(state: state, rows: messages.map { message in
            let rendered = render(message)
            return (message, message.channel == .email ? rendered.map { "\($0.subject)\n\n\($0.text)" } : rendered?.sms)
        })
        return OutboxPage(html: page.render(view))
    }

    /// One-time codes are masked: an admin key reads the outbox, and a code would let it into a subscriber's account.
    private func render(_ message: OutboxMessage) -> RenderedNotification? {
        guard let renderer, let event = message.event else { return nil }
        return try? renderer.render(event.redacted, language: message.language)
    }

    static func state(_ text: String?) throws -> OutboxMessage.State? {
        guard let text else { return nil }
        guard let state = OutboxMessage.State(rawValue: text) else {
            throw Problem(status: .badRequest, code: "invalid-request", title: "Invalid request",
                          detail: "state must be one of pending, sending, sent, dead; not '\(text)'.", field: "state")
        }
        return state
    }

    static func timestamp(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}

/// `GET /v1/outbox`: `200` and the messages, newest first.
struct OutboxListOutput: Encodable, ResponseGenerator {
    let items: [OutboxItemOutput]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try JSONResponse.make(self)
    }
}

struct OutboxItemOutput: Encodable {
    let id: Int64
    let eventKey: String
    let channel: String
    let recipient: String
    let language: String
    let event: String
    let state: String
    let attempts: Int
    let nextAttemptAt: String
    let lastError: String?
    let providerId: String?
    let deliveredAt: String?
    let createdAt: String
    let sentAt: String?
    /// The SMS text, or for email the subject; nil when the stored event cannot be rendered.
    let text: String?

    init(_ message: OutboxMessage, rendered: RenderedNotification?) {
        id = message.id
        eventKey = message.eventKey
        channel = message.channel.rawValue
        recipient = message.recipient
        language = message.language.rawValue
        event = message.eventName
        state = message.state.rawValue
        attempts = message.attempts
        nextAttemptAt = OutboxController.timestamp(message.nextAttemptAt)
        lastError = message.lastError
        providerId = message.providerID
        deliveredAt = message.deliveredAt.map(OutboxController.timestamp)
        createdAt = OutboxController.timestamp(message.createdAt)
        sentAt = message.sentAt.map(OutboxController.timestamp)
        text = message.channel == .email ? rendered?.subject : rendered?.sms
    }
}
