import Foundation
import Mustache
import RechargeCore
@testable import RechargeServer
import Testing

/// The portal's view models: what a template reads by name is the field of that name.
@Suite("Portal: view models")
struct PortalViewTests {
    /// A model that names its fields for Mustache (``MustacheParent``, for speed in loops) names every stored
    /// property, with its value: a field added to the struct but not to `child(named:)` would render as nothing.
    @Test func namedFieldsMatchStoredProperties() {
        let operation = HistoryView.Operation(id: "7", date: "2026-11-28 07:25 UTC", type: "Top-up", channel: "Portal", reference: "ord_x",
                                              amounts: "+10.00 USD", credit: true, order: true, testPayment: false)
        let option = PortalOption(value: "all", label: "All", selected: true)
        let line = LineOption(msisdn: "+14155550100", selected: true)
        let bucket = DashboardView.Bucket(name: "Data", kind: "data", remaining: "1.00 GB", granted: "2.00 GB", percent: 50, validity: "No end", ending: true)
        agrees(operation)
        agrees(option)
        agrees(line)
        agrees(bucket)
        agrees(DashboardView.Line(msisdn: "+14155550100", query: "%2B14155550100", type: "Prepaid", status: "Active", active: true, balance: "25.00 USD",
                                  buckets: [bucket], hasBuckets: true, warnings: ["low"], hasWarnings: true))
        agrees(RechargeView.Item(code: "pack-1", name: "Pack", price: "5.00 USD", checked: false, allowances: "1.00 GB", validity: "30 days",
                                 coverage: nil, renews: "Renews"))
        agrees(RechargeView.Method(value: "sandbox", label: "Test payment", checked: true))
        agrees(ReceiptView.Row(label: "Line", value: "+14155550100"))
        agrees(SettingsView.OwnedLine(msisdn: "+14155550100"))
        agrees(HistoryView(lines: [line], line: "+14155550100", lineQuery: "%2B14155550100", from: "", to: "2026-11-28", types: [option],
                           operations: [operation], empty: false, csv: "/history.csv", usage: [], hasUsage: false))
        agrees(HistoryView.Usage(date: "2026-12-04 10:00", what: "Call to +8613800138000", place: "Roaming in JP", quantity: "2 min 5 s", fromPacks: nil,
                                 charge: "0.75 USD", free: false))
    }

    /// The layout and flash come first, then the page's own fields; a nil optional is no value at all.
    @Test func pageLooksUpLayoutFlashThenModel() {
        let layout = PortalLayout(t: ["brand": "Recharge"], lang: "en", title: "Sign in", csrf: "token", path: "/login", accountPhone: nil,
                                  isEnglish: true, isChinese: false, nav: PortalNavigation(template: "history"), refresh: false)
        let page = PortalPage(layout: layout, flash: PortalFlash(error: "wrong", notice: nil), model: LoginView(phone: "+14155550100", next: ""))
        #expect(page.child(named: "csrf") as? String == "token")
        #expect(page.child(named: "signedIn") as? Bool == false)
        #expect(page.child(named: "error") as? String == "wrong")
        #expect(page.child(named: "notice") == nil)
        #expect(page.child(named: "phone") as? String == "+14155550100")
        #expect(page.child(named: "missing") == nil)
        #expect(layout.nav.history && !layout.nav.dashboard)
        let review = PortalPage(layout: layout, flash: .none, model: RedeemView(lines: []))
        #expect(review.child(named: "result") == nil)
        #expect(review.child(named: "redeemed") as? Bool == false)
    }

    private func agrees<Model: MustacheParent>(_ model: Model, sourceLocation: SourceLocation = #_sourceLocation) {
        for property in Mirror(reflecting: model).children {
            let label = property.label ?? ""
            let stored: Any? = Mirror(reflecting: property.value).displayStyle == .optional ? Mirror(reflecting: property.value).children.first?.value : property.value
            #expect(String(describing: model.child(named: label)) == String(describing: stored), "\(Model.self).\(label)", sourceLocation: sourceLocation)
        }
    }
}
