import Foundation
import RechargeCore
import RechargeStore

/// Where the use happens and what it is, as the HTTP bodies name it.
private func chargedUse(service: String, destination: String?, visitedCountry: String?, visitedNetwork: String?,
                        start: Date) throws(RechargeError) -> ChargedUse {
    let charged: ChargedService
    do { charged = try ChargedService(service) } catch { throw .invalidRequest("service '\(service)' must be voice, sms, data or a service id of lower-case letters, digits and dashes.") }
    let service = charged
    // The same checks rating makes (E.164 digits or a short code), once, here.
    let event = try UsageEvent(service: service, destination: destination, amount: 0, start: start, visitedCountry: visitedCountry,
                               visitedNetwork: visitedNetwork)
    if let country = visitedCountry, country.utf8.count != 2 || !country.utf8.allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }) {
        throw .invalidRequest("visitedCountry must be an ISO 3166 alpha-2 code such as JP.")
    }
    if let network = visitedNetwork, !(5...6).contains(network.utf8.count) || !network.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
        throw .invalidRequest("visitedNetwork must be MCC+MNC, 5 or 6 digits such as 44010.")
    }
    return ChargedUse(service: service, destination: event.destination, visitedCountry: visitedCountry, visitedNetwork: visitedNetwork, start: start)
}

/// `POST /v1/charging/sessions`: opens a session (an initial request) and asks for units.
struct ChargingSessionCreate: StrictlyDecodable {
    /// The client's own id for the session (a retry of the create sends it again); generated when absent.
    let sessionId: String?
    let msisdn: String
    let service: String
    let destination: String?
    let visitedCountry: String?
    let visitedNetwork: String?
    /// Units asked for; absent: the operator's quota for the service.
    let requestedUnits: Int64?
    /// Told (`POST`, JSON) when a recharge lets a session stopped for credit resume.
    let notifyUri: String?

    static let allowedFields: [String: Set<String>] = [
        "": ["sessionId", "msisdn", "service", "destination", "visitedCountry", "visitedNetwork", "requestedUnits", "notifyUri"],
    ]

    static func randomID() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    func request(sessionID: String, now: Date) throws(RechargeError) -> ChargingRequest {
        if let notifyUri {
            guard let url = URL(string: notifyUri), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil,
                  notifyUri.utf8.count <= 2048
            else { throw .invalidRequest("notifyUri must be an http or https URL of at most 2048 bytes.") }
        }
        let use = try chargedUse(service: service, destination: destination, visitedCountry: visitedCountry, visitedNetwork: visitedNetwork, start: now)
        return try ChargingRequest(
            sessionID: sessionID, requestNumber: 0, type: .initial, msisdn: try MSISDN(msisdn), interface: .http(callback: notifyUri),
            services: [try ServiceCreditRequest(key: "", use: use, used: 0, requested: requestedUnits)], now: now)
    }
}

/// `POST /v1/charging/sessions/{id}/update` and `…/release`: units used since the last request, and (update) more asked.
struct ChargingSessionUpdate: StrictlyDecodable {
    /// 1 for the first update, then one more per request (Nchf's invocationSequenceNumber).
    let requestNumber: Int64
    let usedUnits: Int64
    let requestedUnits: Int64?

    static let allowedFields: [String: Set<String>] = ["": ["requestNumber", "usedUnits", "requestedUnits"]]

    func request(sessionID: String, type: CreditControlRequestType, now: Date) throws(RechargeError) -> ChargingRequest {
        guard requestNumber >= 1 else { throw .invalidRequest("requestNumber starts at 1 for the first update (the create was 0).") }
        if type == .termination, requestedUnits != nil { throw .invalidRequest("A release asks for no more units.") }
        // The service of the session is the one it was opened with; its use here is a placeholder the store ignores.
        let use = ChargedUse(service: .voice, destination: nil, visitedCountry: nil, visitedNetwork: nil, start: now)
        return try ChargingRequest(
            sessionID: sessionID, requestNumber: requestNumber, type: type, msisdn: nil, interface: .http(callback: nil),
            services: [try ServiceCreditRequest(key: "", use: use, used: usedUnits, requested: type == .termination ? 0 : requestedUnits)], now: now)
    }
}

/// `POST /v1/charging/events`: a one-shot charge (an SMS, a content purchase): charged in full or refused.
struct ChargingEventRequest: StrictlyDecodable {
    /// The event's own id: a retry with it gets the first answer.
    let eventId: String
    let msisdn: String
    let service: String
    let destination: String?
    let visitedCountry: String?
    let visitedNetwork: String?
    /// Default 1 (one message).
    let units: Int64?

    static let allowedFields: [String: Set<String>] = [
        "": ["eventId", "msisdn", "service", "destination", "visitedCountry", "visitedNetwork", "units"],
    ]

    func request(now: Date) throws(RechargeError) -> ChargingRequest {
        let units = units ?? 1
        guard units > 0 else { throw .invalidRequest("units must be positive.") }
        let use = try chargedUse(service: service, destination: destination, visitedCountry: visitedCountry, visitedNetwork: visitedNetwork, start: now)
        return try ChargingRequest(sessionID: eventId, requestNumber: 0, type: .event, msisdn: try MSISDN(msisdn), interface: .http(callback: nil),
                                   services: [try ServiceCreditRequest(key: "", use: use, used: units, requested: 0)], now: now)
    }
}

/// `POST /v1/rating/quote`: what a use would cost, and why.
struct RatingQuoteRequest: StrictlyDecodable {
    let service: String
    let destination: String?
    let units: Int64
    /// When the use starts (time bands): RFC 3339; default now.
    let start: String?
    let visitedCountry: String?
    let visitedNetwork: String?

    static let allowedFields: [String: Set<String>] = ["": ["service", "destination", "units", "start", "visitedCountry", "visitedNetwork"]]

    func event(now: Date) throws(RechargeError) -> UsageEvent {
        var instant = now
        if let start {
            guard let parsed = RFC3339.parse(start) else { throw .invalidRequest("start must be an RFC 3339 date-time such as 2026-12-04T21:30:00+08:00.") }
            instant = parsed
        }
        guard units >= 0, units <= 1 << 50 else { throw .invalidRequest("units must be 0 to 2^50.") }
        let use = try chargedUse(service: service, destination: destination, visitedCountry: visitedCountry, visitedNetwork: visitedNetwork, start: instant)
        return try use.event(units: units)
    }
}

struct ChargingAnswerOutput: Encodable {
    struct Service: Encodable {
        let key: String
        let result: String
        let grantedUnits: Int64
        let validitySeconds: Int64
        let finalUnit: Bool
        let charged: MoneyOutput
        let sessionCharge: MoneyOutput
        let explanation: String?
        let detail: String?
    }
    let sessionId: String
    let requestNumber: Int64
    let type: String
    let result: String
    let msisdn: String
    let barred: Bool
    let services: [Service]

    init(_ answer: ChargingAnswer) {
        sessionId = answer.sessionID
        requestNumber = answer.requestNumber
        type = answer.type.rawValue
        result = answer.result.rawValue
        msisdn = answer.msisdn
        barred = answer.barred
        let currency = (try? Currency(code: answer.currency)) ?? .usd
        services = answer.services.map {
            Service(key: $0.key, result: $0.result.rawValue, grantedUnits: $0.grantedUnits, validitySeconds: $0.validitySeconds, finalUnit: $0.finalUnit,
                    charged: MoneyOutput(Money(micros: $0.charged, currency: currency)),
                    sessionCharge: MoneyOutput(Money(micros: $0.sessionCharge, currency: currency)), explanation: $0.explanation, detail: $0.detail)
        }
    }
}

struct ChargingSessionOutput: Encodable {
    struct Service: Encodable {
        let key: String
        let service: String
        let destination: String?
        let visitedCountry: String?
        let state: String
        let usedUnits: Int64
        let bucketUnits: Int64
        let charged: MoneyOutput
        let unpaid: MoneyOutput
        let reserved: Int64
        let lastRequestNumber: Int64
        let expiresAt: String
    }
    let sessionId: String
    let msisdn: String
    let services: [Service]

    init(_ state: ChargingStore.SessionState) {
        sessionId = state.sessionID
        msisdn = state.msisdn
        let currency = (try? Currency(code: state.currency)) ?? .usd
        services = state.services.map {
            Service(key: $0.key, service: $0.service, destination: $0.destination.map(UsageEvent.display), visitedCountry: $0.visitedCountry, state: $0.state,
                    usedUnits: $0.usedUnits, bucketUnits: $0.bucketUnits, charged: MoneyOutput(Money(micros: $0.charged, currency: currency)),
                    unpaid: MoneyOutput(Money(micros: $0.unpaid, currency: currency)), reserved: $0.reserved,
                    lastRequestNumber: $0.lastRequestNumber, expiresAt: RFC3339.format($0.expiresAt))
        }
    }
}

struct RatingQuoteOutput: Encodable {
    let tariff: String?
    let free: Bool
    let zone: String?
    let billedUnits: Int64
    let charge: MoneyOutput
    let explanation: String

    init(_ rated: RatedUsage, currency: Currency) {
        tariff = rated.tariff
        free = rated.free
        zone = rated.zone
        billedUnits = rated.billedUnits
        charge = MoneyOutput(rated.charge)
        explanation = rated.explanation
    }
}

/// `GET /v1/lines/{msisdn}/usage`: rated usage, itemized, newest first.
struct UsageOutput: Encodable {
    struct Item: Encodable {
        let id: Int64
        let source: String
        let service: String
        let destination: String?
        let visitedCountry: String?
        let startedAt: String
        let units: Int64
        let fromAllowances: Int64
        let billedUnits: Int64
        let charge: MoneyOutput
        let unpaid: MoneyOutput
        let tariff: String?
        let free: Bool
        let explanation: String?

        init(_ item: ChargingStore.UsageItem) {
            let currency = (try? Currency(code: item.currency)) ?? .usd
            id = item.id
            source = item.source
            service = item.service
            destination = item.destination.map(UsageEvent.display)
            visitedCountry = item.visitedCountry
            startedAt = RFC3339.format(item.startedAt)
            units = item.units
            fromAllowances = item.bucketUnits
            billedUnits = item.billedUnits
            charge = MoneyOutput(Money(micros: item.charge, currency: currency))
            unpaid = MoneyOutput(Money(micros: item.unpaid, currency: currency))
            tariff = item.tariff
            free = item.free
            explanation = item.explanation
        }
    }
    let items: [Item]
    let nextCursor: String?
}
