import Foundation
import Logging
import RechargeCore
import RechargeDiameter
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// Diameter Gy against the real charging engine, driven by a real Diameter implementation (python-diameter's Node as the
/// gateway, scripts/peers/diameter_gateway.py): a call rated and charged I/U/U/T, an SMS event, a roaming data session
/// that runs out of money (4012, final unit redirecting to the recharge page), a top-up that clears the bar and sends a
/// Re-Auth-Request, the gateway's re-authorisation granted again; balances exact and the ledger audited.
@Suite("Diameter Gy against the charging engine", .serialized)
struct DiameterChargingTests {
    static let rating = RatingDefinition(
        currency: "USD", homeCountries: ["CN"],
        zones: [.init(name: "asia", countries: ["JP"], networks: nil)],
        tariffs: [
            .init(code: "voice-cn", service: "voice", destinations: ["86"], price: "0.20", per: 60, increments: "60/60"),
            .init(code: "sms", service: "sms", anywhere: true, price: "0.05", per: 1),
            // A micro-unit a byte, billed by the byte: the gateway's 60-octet grants run a 120-micro balance out exactly.
            .init(code: "data-jp", service: "data", zone: "asia", price: "0.000001", per: 1),
        ])

    @Test(.enabled(if: DiameterGatewayPeer.configured,
                   "needs RECHARGE_TEST_PEERS_PYTHON and RECHARGE_TEST_DIAMETER_GATEWAY: run eval \"$(scripts/start-peers)\" first"),
          .timeLimit(.minutes(2)))
    func aGatewayChargesCallsMessagesAndDataAndResumesAfterARecharge() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let catalogs = CatalogStore(database: database)
            _ = try await catalogs.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [], rating: Self.rating)), now: Date())
            let ledger = LedgerStore(database: database)
            let charging = ChargingStore(database: database, catalogs: catalogs)
            let funds = ["+8613800138000": "10.00", "+8613800138001": "1.00", "+8613800138002": "0.00012"]
            for (number, amount) in funds.sorted(by: { $0.key < $1.key }) {
                let msisdn = try MSISDN(number)
                _ = try await ledger.openLine(try OpenLineCommand(msisdn: msisdn, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil),
                                              now: Date().addingTimeInterval(-60))
                _ = try await ledger.topUp(try TopUpCommand(msisdn: msisdn, value: .money(try Money(decimal: amount, currency: .usd)), channel: .card,
                                                            reference: nil), key: try IdempotencyKey("fund-\(number)"), now: Date().addingTimeInterval(-60))
            }
            let peers = DiameterPeerRealms()
            let handler = GyCreditControl(charging: charging, redirectURL: "https://recharge.example/recharge", allowedPeers: ["pgw.test.example"],
                                          peers: peers, logger: Logger(label: "test.gy"))
            var configuration = DiameterServerConfiguration(host: "127.0.0.1", port: 0, identity: DiameterIdentity(originHost: "ocs.test.example",
                                                                                                                  originRealm: "test.example"))
            configuration.watchdogInterval = .seconds(1)
            let server = DiameterServer(configuration: configuration, handler: handler)
            let port = try await server.start()
            let gateway = try GatewayProcess(python: DiameterGatewayPeer.python!, script: DiameterGatewayPeer.script!, port: port)
            defer { if gateway.process.isRunning { gateway.process.terminate() } }

            // The data session ran out (4012, final unit): a recharge clears the bar and the housekeeping pass sends the RAR.
            let awaiting = try await gateway.waitFor("awaiting_rar")
            let session = try #require(awaiting?["session"], "\(gateway.transcript)")
            #expect(try await ledger.line(try MSISDN("+8613800138002")).barredAt != nil)
            _ = try await ledger.topUp(try TopUpCommand(msisdn: try MSISDN("+8613800138002"), value: .money(try Money(decimal: "5", currency: .usd)),
                                                        channel: .card, reference: nil), key: try IdempotencyKey("recharge"), now: Date())
            await ChargingHousekeepingService(store: charging, senders: ["diameter": DiameterReAuthSender(server: server, peers: peers)],
                                              logger: Logger(label: "test.housekeeping")).runOnce()
            #expect(try await gateway.waitFor("done") != nil, "\(gateway.transcript)")
            #expect(gateway.events("error").isEmpty, "\(gateway.transcript)")
            #expect(gateway.events("rar").first?["session"] == session)

            let ccas = gateway.events("cca")
            struct Service: Decodable { var result_code: UInt32?; var granted_time: UInt32?; var granted_octets: UInt64?; var final_unit_action: UInt32?
                                        var redirect_address: String? }
            func services(_ cca: [String: String]) throws -> [Service] { try JSONDecoder().decode([Service].self, from: Data((cca["services"] ?? "[]").utf8)) }
            let call = ccas.filter { $0["session"]?.contains(";call;") == true }
            #expect(call.map { $0["result_code"] ?? "" } == ["2001", "2001", "2001", "2001"], "\(gateway.transcript)")
            #expect(try call.prefix(3).map { try services($0).first?.granted_time } == [60, 60, 60])
            let sms = try #require(ccas.first { $0["session"]?.contains(";sms;") == true })
            #expect(sms["result_code"] == "2001", "\(gateway.transcript)")
            let data = ccas.filter { $0["session"]?.contains(";data;") == true }
            #expect(data.map { $0["result_code"] ?? "" } == ["2001", "2001", "4012", "2001", "2001"], "\(gateway.transcript)")
            #expect(try data.prefix(2).map { try services($0).first?.granted_octets } == [60, 60])
            let final = try services(data[2]).first
            #expect(final?.final_unit_action == 1 && final?.redirect_address == "https://recharge.example/recharge")
            #expect(try services(data[3]).first?.granted_octets == 60)

            // 150 s of calls to China (3 started minutes at 0.20), one SMS, 150 bytes in Japan.
            func money(_ number: String) async throws -> Int64 {
                try await ledger.balance(try MSISDN(number), at: Date()).totals.first { $0.kind == .monetary }?.remaining ?? -1
            }
            #expect(try await money("+8613800138000") == 10_000_000 - 600_000)
            #expect(try await money("+8613800138001") == 1_000_000 - 50_000)
            #expect(try await money("+8613800138002") == 120 + 5_000_000 - 150)
            #expect(try await ledger.line(try MSISDN("+8613800138002")).barredAt == nil)
            let usage = try await charging.usage(try MSISDN("+8613800138000"), from: nil, until: nil, before: nil, limit: 5).items
            #expect(usage.first?.destination == "8613900139000" && usage.first?.units == 150 && usage.first?.charge == 600_000)
            let audit = try await LedgerAudit(database: database).run()
            #expect(audit.isBalanced, "\(audit.discrepancies)")
            await server.shutdown()
            gateway.process.waitUntilExit()
        }
    }
}
