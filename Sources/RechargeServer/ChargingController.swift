import Foundation
import HTTPTypes
import Hummingbird
import RechargeCore
import RechargeStore

/// `/v1/charging/…` and `/v1/rating/quote`: the online charging system over HTTP, for partners and networks without
/// Diameter. The same engine as Diameter Gy (``ChargingStore``), in the shape of 3GPP Nchf ConvergedCharging: create a
/// session (initial), update it (used units, more units), release it (final use), or charge a one-shot event.
/// A request is idempotent on (session id, request number): a retry gets the stored answer.
struct ChargingController {
    let charging: ChargingStore
    let catalog: CatalogStore
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<RechargeRequestContext>) {
        let read = group.requiring(.read)
        let write = group.requiring(.write)
        write.post("charging/sessions", use: create)
        read.get("charging/sessions/{session}", use: show)
        write.post("charging/sessions/{session}/update", use: update)
        write.post("charging/sessions/{session}/release", use: release)
        write.post("charging/events", use: event)
        read.post("rating/quote", use: quote)
        read.get("lines/{msisdn}/usage", use: usage)
    }

    @Sendable func create(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let body = try await JSONBody.decode(ChargingSessionCreate.self, from: request, context: context)
        let now = clock()
        let sessionID = body.sessionId ?? "chg_" + ChargingSessionCreate.randomID()
        let answer = try await charging.handle(try body.request(sessionID: sessionID, now: now))
        // 201 when a session exists to be read at its Location: granted, or refused for credit or a suspended line (it is then
        // closed); not for an unknown number, a session id already taken, or a use nothing prices.
        let opened: Bool = switch answer.result {
        case .success, .creditLimitReached, .serviceDenied: answer.replayed != true
        case .userUnknown, .unknownSession, .ratingFailed: false
        }
        return .answer(answer, created: opened)
    }

    @Sendable func update(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let body = try await JSONBody.decode(ChargingSessionUpdate.self, from: request, context: context)
        return .answer(try await charging.handle(try body.request(sessionID: try context.sessionID(), type: .update, now: clock())), created: false)
    }

    @Sendable func release(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let body = try await JSONBody.decode(ChargingSessionUpdate.self, from: request, context: context)
        return .answer(try await charging.handle(try body.request(sessionID: try context.sessionID(), type: .termination, now: clock())), created: false)
    }

    @Sendable func event(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let body = try await JSONBody.decode(ChargingEventRequest.self, from: request, context: context)
        return .answer(try await charging.handle(try body.request(now: clock())), created: false)
    }

    @Sendable func show(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let id = try context.sessionID()
        guard let state = try await charging.session(id) else { throw Problem(status: .notFound, code: "charging-session-not-found", title: "Charging session not found",
                                                                             detail: "No charging session has the id '\(id)'.") }
        return .session(state)
    }

    @Sendable func quote(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let body = try await JSONBody.decode(RatingQuoteRequest.self, from: request, context: context)
        guard let table = try await catalog.catalog().ratingTable else {
            throw RechargeError.invalidRequest("The catalog has no rating section: nothing is priced. Add one (docs/charging.md).")
        }
        return .quote(try table.rate(try body.event(now: clock())), currency: table.currency)
    }

    @Sendable func usage(_ request: Request, context: RechargeRequestContext) async throws -> ChargingReply {
        let msisdn = try context.msisdn()
        let query = request.uri.queryParameters
        var limit = 50
        if let text = query.get("limit") {
            guard let value = Int(text), (1...500).contains(value) else { throw RechargeError.invalidRequest("'limit' must be 1 to 500.") }
            limit = value
        }
        var cursor: Int64?
        if let text = query.get("cursor") {
            guard let value = Int64(text), value > 0 else { throw RechargeError.invalidCursor }
            cursor = value
        }
        let page = try await charging.usage(msisdn, from: nil, until: nil, before: cursor, limit: limit)
        return .usage(page.items, next: page.nextCursor)
    }
}

extension RechargeRequestContext {
    /// The `{session}` path parameter: 1 to 256 bytes.
    func sessionID() throws -> String {
        let id = parameters.get("session") ?? ""
        guard (1...256).contains(id.utf8.count) else { throw RechargeError.invalidRequest("A charging session id is 1 to 256 bytes.") }
        return id
    }
}

/// What the charging routes answer.
enum ChargingReply: ResponseGenerator {
    case answer(ChargingAnswer, created: Bool)
    case session(ChargingStore.SessionState)
    case quote(RatedUsage, currency: Currency)
    case usage([ChargingStore.UsageItem], next: Int64?)

    func response(from request: Request, context: some RequestContext) throws -> Response {
        switch self {
        case .answer(let answer, let created):
            var response = try JSONResponse.make(ChargingAnswerOutput(answer), status: created ? .created : .ok)
            if created { response.headers[.location] = "/v1/charging/sessions/\(answer.sessionID)" }
            response.markReplayed(answer.replayed == true)
            return response
        case .session(let state):
            return try JSONResponse.make(ChargingSessionOutput(state))
        case .quote(let rated, let currency):
            return try JSONResponse.make(RatingQuoteOutput(rated, currency: currency))
        case .usage(let items, let next):
            return try JSONResponse.make(UsageOutput(items: items.map(UsageOutput.Item.init), nextCursor: next.map(String.init)))
        }
    }
}
