import Foundation
import Hummingbird
import Mustache
import RechargeCore
import RechargeNotifications
import RechargeStore

/// `GET /dev/outbox`: the latest messages with the text each renders to, as a plain page for a developer's browser.
/// The handler lists and renders; ``view(state:rows:)`` lays the rows out as a typed view model, and the bundled
/// `portal/dev/outbox.mustache` (English only: an operator's tool, not a subscriber's page) turns it into HTML.
struct OutboxPage: ResponseGenerator {
    /// `outbox.mustache`: every value is escaped by the template (`{{ }}`).
    struct View: Sendable {
        struct Row: Sendable {
            let id: String
            let state: String
            let channel: String
            let recipient: String
            let event: String
            let eventKey: String
            let attempts: String
            let created: String
            /// False when the message cannot be rendered: the page says so instead of `text`.
            let rendered: Bool
            let text: String
            let lastError: String
        }

        let count: Int
        /// Empty, or the state the list is filtered by.
        let filter: [String]
        let rows: [Row]
    }

    let html: String

    /// The template, loaded once at start from the RechargeServer bundle.
    static func bundledTemplate() throws -> MustacheTemplate {
        guard let root = PortalResources.directory else { throw RechargeError.invalidRequest("the portal resources are missing from the bundle") }
        return try MustacheTemplate(string: String(contentsOf: root.appendingPathComponent("dev/outbox.mustache"), encoding: .utf8))
    }

    /// `rows`: each message with its text (SMS body, or email subject and text); nil when it cannot be rendered.
    static func view(state: OutboxMessage.State?, rows: [(message: OutboxMessage, text: String?)]) -> View {
        View(count: rows.count, filter: state.map { [$0.rawValue] } ?? [], rows: rows.map { message, text in
            View.Row(id: String(message.id), state: message.state.rawValue, channel: message.channel.rawValue, recipient: message.recipient,
                     event: message.eventName, eventKey: message.eventKey, attempts: String(message.attempts),
                     created: OutboxController.timestamp(message.createdAt), rendered: text != nil, text: text ?? "", lastError: message.lastError ?? "")
        })
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
