import SluiceModel
import SluiceTestKit
import Testing

@Suite struct ManifestParserTests {
    @Test func readsSeveralDocumentsWithLines() throws {
        let text = """
            apiVersion: v1
            kind: Service
            metadata:
              name: checkout-stable
            spec:
              selector: {app: checkout}
            ---
            # a comment-only document is skipped
            ---
            apiVersion: networking.istio.io/v1
            kind: VirtualService
            metadata:
              name: checkout
            spec:
              http:
                - name: primary
                  route:
                    - destination: {host: checkout-stable}
                      weight: 100
            """
        let docs = try ManifestParser.parse(text)
        #expect(docs.count == 2)
        #expect(docs[0].kind == "Service")
        #expect(docs[1].name == "checkout")
        #expect(docs[1].line == 10)
        #expect(docs[1].line(of: "spec.http[0].route[0].weight") == 19)
        #expect(docs[1].line(of: "spec.http[0].name") == 16)
        // A path not in the file is reported at its closest written parent.
        #expect(docs[1].line(of: "spec.http[0].mirror.host") == 16)
    }

    @Test func resolvesScalarsAsKubectlDoes() throws {
        let docs = try ManifestParser.parse("""
            a: 1
            b: 1.5
            c: true
            d: "true"
            e: null
            f: 2026-11-27T18:55:08Z
            g: 0x10
            h: yes
            """)
        let json = try #require(docs.first?.json)
        #expect(json["a"] == .number(1))
        #expect(json["b"] == .number(1.5))
        #expect(json["c"] == .bool(true))
        #expect(json["d"] == .string("true"))
        #expect(json["e"] == .null)
        #expect(json["f"] == .string("2026-11-27T18:55:08Z"))
        #expect(json["g"] == .number(16))
        #expect(json["h"] == .bool(true))
    }

    @Test func reportsInvalidYAMLWithLine() {
        do {
            _ = try ManifestParser.parse("a: 1\nb: [1, 2\nc: 3\n")
            Issue.record("expected a failure")
        } catch {
            #expect(error.line >= 2)
            #expect(error.message.contains("not valid YAML"))
        }
    }

    @Test func rejectsDuplicateKeys() {
        #expect(throws: ManifestParser.Failure.self) { try ManifestParser.parse("a: 1\na: 2\n") }
    }

    @Test func readsJSON() throws {
        let docs = try ManifestParser.parse(#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}}"#)
        #expect(docs.first?.name == "x")
    }
}
