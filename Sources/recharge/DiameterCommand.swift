import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import RechargeDiameter

/// `recharge diameter`: the Gy tools that need no database: a load generator that runs whole credit-control sessions
/// against any OCS, a protocol-only test server that grants what is asked (for the load generator and gateway
/// trials, `--demo` only: it charges nothing), and the codec's benchmark.
struct DiameterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diameter", abstract: "Diameter Gy tools: load generator, protocol test server, codec benchmark.",
        subcommands: [Load.self, ServeTest.self, CodecBench.self])

    static func identity(host: String, realm: String) -> DiameterIdentity {
        DiameterIdentity(
            originHost: host, originRealm: realm, productName: "Recharge",
            originStateID: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run whole sessions (CCR-I, N × CCR-U, CCR-T) against an OCS; print CCR/s and latency as one JSON line.")
        @Option(help: "The OCS's address.") var host = "127.0.0.1"
        @Option(help: "The OCS's Diameter port.") var port = 3868
        @Option(help: "Sessions to run.") var sessions = 1_000
        @Option(help: "CCR-U per session.") var updates = 10
        @Option(help: "Sessions in flight at once (spread over the connections).") var concurrency = 64
        @Option(help: "TCP connections (each its own CER, Origin-Host load-N.<realm>).") var connections = 1
        @Option(help: "Our Origin-Realm.") var realm = "load.example"
        @Option(help: "Destination-Realm of the CCRs.") var destinationRealm = "ocs.example"
        @Option(help: "E.164 numbers to use, MSISDN-PREFIX followed by the session number (modulo --lines).") var msisdnPrefix = "86139"
        @Option(help: "Digits after the prefix (zero-padded).") var msisdnDigits = 8
        @Option(help: "Distinct numbers to spread the sessions over (default: one per session).") var lines: Int?

        func validate() throws {
            guard (1...15).contains(msisdnDigits), (lines ?? 1) > 0 else { throw ValidationError("--msisdn-digits is 1 to 15 and --lines positive") }
            guard sessions > 0, updates >= 0, concurrency > 0, connections > 0 else {
                throw ValidationError("--sessions, --concurrency and --connections must be positive, --updates not negative")
            }
        }

        func run() async throws {
            try await reportingErrors {
                var clients: [DiameterClient] = []
                for index in 0..<connections {
                    clients.append(try await DiameterClient.connect(
                        host: host, port: port, identity: DiameterCommand.identity(host: "load-\(index).\(realm)", realm: realm)))
                }
                let next = Counter()
                let start = ContinuousClock.now
                let results = try await withThrowingTaskGroup(of: Tally.self) { group in
                    for worker in 0..<concurrency {
                        let client = clients[worker % clients.count]
                        group.addTask {
                            var tally = Tally()
                            while let session = next.take(below: sessions) {
                                try await runSession(session, client: client, tally: &tally)
                            }
                            return tally
                        }
                    }
                    var total = Tally()
                    for try await tally in group { total.merge(tally) }
                    return total
                }
                let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18
                    + Double((ContinuousClock.now - start).components.seconds)
                for client in clients { await client.disconnect() }
                let sorted = results.latencies.sorted()
                func percentile(_ p: Double) -> Double {
                    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1_000
                }
                let line: [String: Any] = [
                    "sessions": sessions, "updates": updates, "concurrency": concurrency, "connections": connections,
                    "requests": sorted.count, "ccr_u": results.updates, "errors": results.errors, "seconds": round(seconds * 1_000) / 1_000,
                    "ccr_per_second": Int(Double(sorted.count) / seconds), "ccr_u_per_second": Int(Double(results.updates) / seconds),
                    "p50_ms": round(percentile(0.5) * 1_000) / 1_000, "p99_ms": round(percentile(0.99) * 1_000) / 1_000,
                    "result_codes": results.resultCodes.reduce(into: [String: Int]()) { $0[String($1.key)] = $1.value },
                ]
                let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
                print(String(decoding: json, as: UTF8.self))
            }
        }

        func runSession(_ session: Int, client: DiameterClient, tally: inout Tally) async throws {
            let sessionID = "\(client.identity.originHost);\(session);\(UInt32.random(in: 0...UInt32.max))"
            let msisdn = msisdnPrefix + String(format: "%0\(msisdnDigits)d", session % (lines ?? sessions))
            func request(_ type: CCRequestType, _ number: UInt32) -> CreditControlRequest {
                let used: [UsedServiceUnit] = type == .initial ? [] : [UsedServiceUnit(units: ServiceUnits(time: 60), reportingReason: type == .termination ? .final : .quotaExhausted)]
                return CreditControlRequest(
                    sessionID: sessionID, originHost: client.identity.originHost, originRealm: client.identity.originRealm,
                    destinationRealm: destinationRealm, serviceContextID: "32260@3gpp.org", requestType: type, requestNumber: number,
                    subscriptionIDs: [SubscriptionID(type: .e164, data: msisdn)], multipleServicesIndicator: true,
                    calledParty: CalledParty(raw: "tel:+8613800138000", source: .ims),
                    services: [MSCCRequest(ratingGroup: 100, requested: type == .termination ? nil : ServiceUnits(time: 60), used: used)])
            }
            var steps: [(CCRequestType, UInt32)] = [(.initial, 0)]
            for number in 0..<updates { steps.append((.update, UInt32(number + 1))) }
            steps.append((.termination, UInt32(updates + 1)))
            for (type, number) in steps {
                let began = ContinuousClock.now
                do {
                    let answer = try await client.creditControl(request(type, number))
                    tally.resultCodes[answer.resultCode.rawValue, default: 0] += 1
                } catch {
                    tally.errors += 1
                }
                let elapsed = ContinuousClock.now - began
                tally.latencies.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                if type == .update { tally.updates += 1 }
            }
        }
    }

    struct ServeTest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "serve-test",
            abstract: "A Diameter OCS that grants what is asked and charges nothing (--demo only): for the load generator and gateway trials.")
        @Option(help: "Listen address.") var host = "127.0.0.1"
        @Option(help: "Listen port.") var port = 3868
        @Option(help: "Our Origin-Host.") var originHost = "ocs.example"
        @Option(help: "Our Origin-Realm.") var originRealm = "ocs.example"
        @Option(help: "Seconds granted per request when the request names no amount.") var grant: UInt32 = 60
        @Option(help: "Largest message accepted, bytes.") var maxMessageSize = 65_536
        @Option(help: "Requests in flight per connection before 3004 DIAMETER_TOO_BUSY.") var maxOutstanding = 1_024
        @Option(help: "Connections accepted at once.") var maxConnections = 64
        @Flag(help: "Required: this server grants everything and debits nothing.") var demo = false

        func validate() throws {
            guard demo else { throw ValidationError("serve-test grants every request without charging; run it with --demo, never in production") }
        }

        func run() async throws {
            try await reportingErrors {
                var logger = Logger(label: "recharge.diameter")
                logger.logLevel = .info
                let server = DiameterServer(
                    configuration: DiameterServerConfiguration(
                        host: host, port: port, identity: DiameterCommand.identity(host: originHost, realm: originRealm),
                        maximumMessageSize: maxMessageSize, maximumOutstandingRequestsPerConnection: maxOutstanding,
                        maximumConnections: maxConnections),
                    handler: GrantEverything(seconds: grant), logger: logger)
                let bound = try await server.start()
                FileHandle.standardError.write(Data("serve-test (grants everything, charges nothing) on \(host):\(bound)\n".utf8))
                try await server.run()
            }
        }
    }

    struct CodecBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "codec-bench", abstract: "Encode and decode a typical CCR-U and its CCA; print messages per second as one JSON line.")
        @Option(help: "Messages per measurement.") var iterations = 200_000

        func run() async throws {
            let request = CreditControlRequest(
                sessionID: "pgw.example;1700000000;42", originHost: "pgw.example", originRealm: "example", destinationRealm: "ocs.example",
                serviceContextID: "32260@3gpp.org", requestType: .update, requestNumber: 3,
                subscriptionIDs: [SubscriptionID(type: .e164, data: "8613800138000"), SubscriptionID(type: .imsi, data: "460001234567890")],
                eventTimestamp: DiameterTime(unixSeconds: 1_780_000_000), multipleServicesIndicator: true, visitedNetwork: "46000",
                calledParty: CalledParty(raw: "tel:+8613900139000", source: .ims),
                services: [MSCCRequest(
                    ratingGroup: 100, requested: ServiceUnits(time: 60),
                    used: [UsedServiceUnit(units: ServiceUnits(time: 60), reportingReason: .quotaExhausted)])])
            let message = request.message(hopByHopID: 1, endToEndID: 2)
            let bytes = DiameterCodec.encode(message)
            let answer = CreditControlAnswer(
                resultCode: .success,
                services: [MSCCAnswer(ratingGroup: 100, resultCode: .success, granted: ServiceUnits(time: 60), validityTime: 3_600)])
            let identity = DiameterIdentity(originHost: "ocs.example", originRealm: "ocs.example")
            var buffer = ByteBufferAllocator().buffer(capacity: 1_024)

            func measure(_ body: () throws -> Void) rethrows -> Int {
                let start = ContinuousClock.now
                for _ in 0..<iterations { try body() }
                let elapsed = ContinuousClock.now - start
                return Int(Double(iterations) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
            }
            var checksum = 0
            let encode = measure {
                buffer.clear()
                DiameterCodec.encode(request.message(hopByHopID: 1, endToEndID: 2), into: &buffer)
                checksum &+= buffer.readableBytes
            }
            let decode = try measure {
                let decoded = try CreditControlRequest(message: try DiameterCodec.decode(bytes))
                checksum &+= Int(decoded.requestNumber)
            }
            let answerEncode = measure {
                buffer.clear()
                DiameterCodec.encode(answer.message(answering: request, identity: identity), into: &buffer)
                checksum &+= buffer.readableBytes
            }
            let line: [String: Any] = [
                "iterations": iterations, "ccr_bytes": bytes.readableBytes, "ccr_encode_per_second": encode,
                "ccr_decode_per_second": decode, "cca_encode_per_second": answerEncode, "checksum": checksum,
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}

/// The serve-test handler: 2001 with what each MSCC asked for (or `seconds` when it named no amount).
struct GrantEverything: CreditControlHandler {
    let seconds: UInt32

    func creditControl(_ request: CreditControlRequest, peer: DiameterPeer) async -> CreditControlAnswer {
        guard request.requestType != .termination else { return CreditControlAnswer(resultCode: .success) }
        if request.services.isEmpty {
            let asked = request.requested ?? ServiceUnits()
            return CreditControlAnswer(resultCode: .success, granted: asked.isEmpty ? ServiceUnits(time: seconds) : asked)
        }
        return CreditControlAnswer(resultCode: .success, services: request.services.map { service in
            let asked = service.requested ?? ServiceUnits()
            return MSCCAnswer(
                ratingGroup: service.ratingGroup, serviceIdentifiers: service.serviceIdentifiers, resultCode: .success,
                granted: asked.isEmpty ? ServiceUnits(time: seconds) : asked)
        })
    }
}

/// Which session a load worker runs next.
final class Counter: Sendable {
    private let value = NIOLockedValueBox(0)

    func take(below limit: Int) -> Int? {
        value.withLockedValue { current in
            guard current < limit else { return nil }
            defer { current += 1 }
            return current
        }
    }
}

struct Tally: Sendable {
    var latencies: [Double] = []
    var updates = 0
    var errors = 0
    var resultCodes: [UInt32: Int] = [:]

    mutating func merge(_ other: Tally) {
        latencies.append(contentsOf: other.latencies)
        updates += other.updates
        errors += other.errors
        resultCodes.merge(other.resultCodes, uniquingKeysWith: +)
    }
}
