import Foundation
import Hummingbird
import RechargeCore
import RechargeNotifications
import RechargeStore

/// The outbox for operators: `GET /v1/outbox?state=&limit=` (JSON) and `GET /dev/outbox` (a plain HTML page
/// with the latest 100 messages and their rendered text). Both need an admin API key.
struct OutboxController {
    let outbox: OutboxStore
    let renderer: NotificationRenderer?

    /// `dev` is nil unless the `/dev` pages are on (`--demo` or `--dev-pages`).
    func addRoutes(v1: RouterGroup<RechargeRequestContext>, dev: RouterGroup<RechargeRequestContext>?) {
        v1.requiring(.admin).get("outbox", use: list)
        dev?.requiring(.admin).get("outbox", use: page)
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

    @Sendable func page(_ request: Request, context: RechargeRequestContext) async throws -> OutboxPage {
        let state = try Self.state(request.uri.queryParameters.get("state"))
        let messages = try await outbox.list(state: state, limit: 100)
        return OutboxPage(state: state, rows: messages.map { message in
            let rendered = render(message)
            return (message, message.channel == .email ? rendered.map { "\($0.subject)\n\n\($0.text)" } : rendered?.sms)
        })
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

    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
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

/// `GET /dev/outbox`: the latest messages with the text each renders to, as a plain page for a developer's browser.
/// The handler lists and renders; this only lays the rows out.
struct OutboxPage: ResponseGenerator {
    /// The state the list is filtered by, if any.
    let state: OutboxMessage.State?
    /// Each message with its text (SMS body, or email subject and text); nil when it cannot be rendered.
    let rows: [(message: OutboxMessage, text: String?)]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>Outbox · Recharge</title>
            <style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}.dead{background:#fdd}.pending{background:#ffd}.sent{background:#dfd}pre{white-space:pre-wrap;margin:0;max-width:40em}</style>
            </head><body>
            <h1>Outbox</h1>
            <p>The latest \(rows.count) messages\(state.map { " in state <b>\($0.rawValue)</b>" } ?? ""), newest first.</p>
            <table><tr><th>id</th><th>state</th><th>channel</th><th>recipient</th><th>event</th><th>attempts</th><th>created</th><th>text</th><th>last error</th></tr>

            """
        for (message, text) in rows {
            html += """
                <tr class="\(message.state.rawValue)"><td>\(message.id)</td><td>\(message.state.rawValue)</td><td>\(message.channel.rawValue)</td>\
                <td>\(OutboxController.escape(message.recipient))</td><td>\(OutboxController.escape(message.eventName))<br><small>\(OutboxController.escape(message.eventKey))</small></td>\
                <td>\(message.attempts)</td><td>\(OutboxController.timestamp(message.createdAt))</td><td><pre>\(OutboxController.escape(text ?? "(cannot be rendered)"))</pre></td>\
                <td>\(OutboxController.escape(message.lastError ?? ""))</td></tr>

                """
        }
        html += "</table></body></html>\n"
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
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
