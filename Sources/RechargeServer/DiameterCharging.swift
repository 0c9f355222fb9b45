import Foundation
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import RechargeDiameter
import RechargeStore
import ServiceLifecycle

/// Diameter Gy in front of the charging engine: each CCR becomes a ``ChargingRequest`` (one service per
/// Multiple-Services-Credit-Control), each ``ChargingAnswer`` a CCA. The same engine as `/v1/charging/…`.
///
/// How a CCR names what it charges:
/// - the subscriber: Subscription-Id of type END_USER_E164 (an IMSI alone is not known to lines: 5030);
/// - the service: the Service-Context-Id (`32251@3gpp.org` PS → data, `32260@3gpp.org` IMS → voice,
///   `32274@3gpp.org` SMS → sms), else an SMS or IMS called party → sms or voice, else data;
/// - the units: CC-Time (voice), CC-Total-Octets or input + output octets (data), CC-Service-Specific-Units (SMS,
///   other services; an SMS event without units is one message);
/// - the destination: the IMS Called-Party-Address or the SMS Recipient-Address, as digits;
/// - where: 3GPP-SGSN-MCC-MNC, else the PLMN of 3GPP-User-Location-Info.
public struct GyCreditControl: CreditControlHandler {
    let charging: ChargingStore
    let clock: @Sendable () -> Date
    /// The recharge page a final unit redirects to (FUI REDIRECT); nil: TERMINATE.
    let redirectURL: String?
    /// Origin-Hosts allowed to charge; empty: any peer that completed CER (bind to a private address then).
    let allowedPeers: Set<String>
    let peers: DiameterPeerRealms
    let logger: Logger

    public init(charging: ChargingStore, clock: @escaping @Sendable () -> Date = { Date() }, redirectURL: String?, allowedPeers: Set<String>,
                peers: DiameterPeerRealms, logger: Logger) {
        self.charging = charging
        self.clock = clock
        self.redirectURL = redirectURL
        self.allowedPeers = allowedPeers
        self.peers = peers
        self.logger = logger
    }

    public func creditControl(_ request: CreditControlRequest, peer: DiameterPeer) async -> CreditControlAnswer {
        guard allowedPeers.isEmpty || allowedPeers.contains(peer.originHost) else {
            return CreditControlAnswer(resultCode: .authorizationRejected, errorMessage: "peer \(peer.originHost) may not charge here")
        }
        peers.remember(peer)
        let chargingRequest: ChargingRequest
        do {
            chargingRequest = try Self.chargingRequest(request, peer: peer, now: clock())
        } catch let error as GyMappingError {
            return CreditControlAnswer(resultCode: error.resultCode, errorMessage: error.message)
        } catch {
            return CreditControlAnswer(resultCode: .invalidAVPValue, errorMessage: "\(error)")
        }
        do {
            let answer = try await charging.handle(chargingRequest)
            return answerFor(answer, request: request)
        } catch let error as RechargeError {
            // A request number reused with another body.
            return CreditControlAnswer(resultCode: .invalidAVPValue, errorMessage: error.detail)
        } catch {
            // The database is away or overloaded: the gateway may retry, here or on another node.
            logger.warning("Credit control failed", metadata: ["session": "\(request.sessionID)", "error": "\(error)"])
            return CreditControlAnswer(resultCode: DatabaseError.isUnavailable(error) ? .tooBusy : .unableToComply, errorMessage: "try again")
        }
    }

    /// Why a CCR cannot be mapped to a charging request, with the result code that says so.
    struct GyMappingError: Error {
        let resultCode: DiameterResultCode
        let message: String
    }

    static func service(of request: CreditControlRequest) -> ChargedService {
        let context = request.serviceContextID.lowercased()
        if context.hasPrefix("32251") { return .data }
        if context.hasPrefix("32260") { return .voice }
        if context.hasPrefix("32274") { return .sms }
        switch request.calledParty?.source {
        case .sms?: return .sms
        case .ims?: return .voice
        case nil: return .data
        }
    }

    static func amount(_ units: ServiceUnits, service: ChargedService) -> Int64? {
        switch service {
        case .voice: units.time.map(Int64.init)
        case .data:
            if let total = units.totalOctets { Int64(clamping: total) }
            else if units.inputOctets == nil && units.outputOctets == nil { nil }
            else { Int64(clamping: (units.inputOctets ?? 0) &+ (units.outputOctets ?? 0)) }
        default: units.serviceSpecificUnits.map { Int64(clamping: $0) }
        }
    }

    static func chargingRequest(_ request: CreditControlRequest, peer: DiameterPeer, now: Date) throws -> ChargingRequest {
        let type: CreditControlRequestType = switch request.requestType {
        case .initial: .initial
        case .update: .update
        case .termination: .termination
        case .event: .event
        }
        var msisdn: MSISDN?
        if let e164 = request.subscriptionIDs.first(where: { $0.type == .e164 }) {
            // END_USER_E164 data is the international number's digits, usually without '+'.
            do { msisdn = try MSISDN(e164.data.hasPrefix("+") ? e164.data : "+" + e164.data) } catch { throw GyMappingError(resultCode: .invalidAVPValue, message: "Subscription-Id \(e164.data) is not an E.164 number") }
        } else if type == .initial || type == .event {
            throw GyMappingError(resultCode: .userUnknown, message: "no END_USER_E164 Subscription-Id: an IMSI alone names no line here")
        }
        if let requestedAction = request.requestedAction, requestedAction != .directDebiting {
            throw GyMappingError(resultCode: .invalidAVPValue, message: "Requested-Action \(requestedAction) is not supported (DIRECT_DEBITING only)")
        }
        let service = Self.service(of: request)
        let destination = request.calledParty?.normalized.map { $0.hasPrefix("+") ? String($0.dropFirst()) : $0 }
        let visited = request.servingNetwork
        let use = ChargedUse(service: service, destination: destination, visitedCountry: nil,
                             visitedNetwork: visited.flatMap { (5...6).contains($0.count) && $0.allSatisfy(\.isNumber) ? $0 : nil }, start: now)
        func used(_ units: [UsedServiceUnit]) -> Int64 {
            units.reduce(0) { $0 + (amount($1.units, service: service) ?? 0) }
        }
        /// No Requested-Service-Unit: nothing more is asked (0); an empty one leaves the amount to the quota (nil).
        func asked(_ units: ServiceUnits?) -> Int64? {
            guard let units else { return 0 }
            return amount(units, service: service)
        }
        var services: [ServiceCreditRequest] = []
        if request.services.isEmpty {
            var usedUnits = used(request.used)
            if type == .event, usedUnits == 0 { usedUnits = request.requested.flatMap { amount($0, service: service) } ?? 1 }
            let requested: Int64? = type == .event || type == .termination ? 0 : asked(request.requested)
            services.append(try ServiceCreditRequest(key: "", use: use, used: usedUnits, requested: requested))
        } else {
            for mscc in request.services {
                let key = (mscc.ratingGroup.map { "rg\($0)" } ?? "") + (mscc.serviceIdentifiers.first.map { "si\($0)" } ?? "")
                var usedUnits = used(mscc.used)
                if type == .event, usedUnits == 0 { usedUnits = mscc.requested.flatMap { amount($0, service: service) } ?? 1 }
                let requested: Int64? = type == .event || type == .termination ? 0 : asked(mscc.requested)
                services.append(try ServiceCreditRequest(key: key, use: use, used: usedUnits, requested: requested))
            }
        }
        return try ChargingRequest(sessionID: request.sessionID, requestNumber: Int64(request.requestNumber), type: type, msisdn: msisdn,
                                   interface: .diameter(peer: peer.originHost), services: services, now: now)
    }

    static func resultCode(_ result: ChargingAnswer.Result) -> DiameterResultCode {
        switch result {
        case .success: .success
        case .creditLimitReached: .creditLimitReached
        case .serviceDenied: .endUserServiceDenied
        case .ratingFailed: .ratingFailed
        case .userUnknown: .userUnknown
        case .unknownSession: .unknownSessionID
        }
    }

    func answerFor(_ answer: ChargingAnswer, request: CreditControlRequest) -> CreditControlAnswer {
        let service = Self.service(of: request)
        func units(_ amount: Int64) -> ServiceUnits {
            switch service {
            case .voice: ServiceUnits(time: UInt32(clamping: amount))
            case .data: ServiceUnits(totalOctets: UInt64(clamping: amount))
            default: ServiceUnits(serviceSpecificUnits: UInt64(clamping: amount))
            }
        }
        let finalUnit = FinalUnitIndication(action: redirectURL == nil ? .terminate : .redirect,
                                            redirectServer: redirectURL.map { RedirectServer(addressType: .url, address: $0) })
        // An event's Granted-Service-Unit is what was debited.
        let granting = request.requestType != .termination
        let session = request.requestType == .initial || request.requestType == .update
        if request.services.isEmpty {
            let only = answer.services.first
            return CreditControlAnswer(
                resultCode: Self.resultCode(answer.result),
                granted: granting && (only?.grantedUnits ?? 0) > 0 ? units(only!.grantedUnits) : nil,
                validityTime: session && (only?.validitySeconds ?? 0) > 0 ? UInt32(clamping: only!.validitySeconds) : nil,
                finalUnit: only?.finalUnit == true && session ? finalUnit : nil,
                errorMessage: answer.result == .success ? nil : only?.detail)
        }
        var services: [MSCCAnswer] = []
        for mscc in request.services {
            let key = (mscc.ratingGroup.map { "rg\($0)" } ?? "") + (mscc.serviceIdentifiers.first.map { "si\($0)" } ?? "")
            guard let service = answer.services.first(where: { $0.key == key }) else { continue }
            services.append(MSCCAnswer(
                ratingGroup: mscc.ratingGroup, serviceIdentifiers: mscc.serviceIdentifiers, resultCode: Self.resultCode(service.result),
                granted: granting && service.grantedUnits > 0 ? units(service.grantedUnits) : nil,
                validityTime: session && service.validitySeconds > 0 ? UInt32(clamping: service.validitySeconds) : nil,
                finalUnit: service.finalUnit && session ? finalUnit : nil))
        }
        // The command's Result-Code: success when any service succeeded (each MSCC carries its own), else the refusal.
        return CreditControlAnswer(resultCode: Self.resultCode(answer.result), services: services,
                                   errorMessage: answer.result == .success ? nil : answer.services.first?.detail)
    }
}

/// The realm of each gateway seen, by Origin-Host: where a re-auth for its sessions goes.
public final class DiameterPeerRealms: Sendable {
    private let realms = NIOLockedValueBox<[String: String]>([:])

    public init() {}

    func remember(_ peer: DiameterPeer) {
        realms.withLockedValue { if $0[peer.originHost] != peer.originRealm { $0[peer.originHost] = peer.originRealm } }
    }

    func realm(of host: String) -> String? { realms.withLockedValue { $0[host] } }
}

/// Sends the Re-Auth-Request a recharge queued to the gateway that holds the session, when this node has its
/// connection; another node (or a later attempt, once the gateway reconnects) takes it otherwise.
public struct DiameterReAuthSender: ChargingReAuthSender {
    let server: DiameterServer
    let peers: DiameterPeerRealms

    public init(server: DiameterServer, peers: DiameterPeerRealms) {
        self.server = server
        self.peers = peers
    }

    public func reAuth(_ reauth: ChargingStore.PendingReAuth) async -> (sent: Bool, result: String)? {
        guard let host = reauth.peer else { return (false, "no peer") }
        do {
            let code = try await server.reAuth(sessionID: reauth.sessionID, peerOriginHost: host, destinationRealm: peers.realm(of: host) ?? host)
            return code == 2001 ? (true, "RAA 2001") : (false, "RAA \(code)")
        } catch {
            // Not connected here (or no answer): leave it for the node that is, for a while.
            return reauth.attempts >= 30 ? (false, "\(error)") : nil
        }
    }
}

/// The Diameter listener under swift-service-lifecycle: starts with the node, sends DPR to its peers on shutdown.
public struct DiameterService: Service {
    let server: DiameterServer

    public init(server: DiameterServer) {
        self.server = server
    }

    public func run() async throws {
        try await server.start()
        await withGracefulShutdownHandler {
            try? await server.run()
        } onGracefulShutdown: {
            Task { await server.shutdown() }
        }
    }
}
