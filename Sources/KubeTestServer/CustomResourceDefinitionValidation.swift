import SluiceModel

/// The checks kube-apiserver makes when a CustomResourceDefinition is created or updated that
/// the test server repeats: its CEL rules compile and fit the cost budgets.
enum CustomResourceDefinitionValidation {
    static func validate(_ crd: JSONValue, info: ResourceInfo) throws(APIError) {
        let versions = crd["spec"]?["versions"]?.array ?? []
        let schemas = versions.map { $0["schema"]?["openAPIV3Schema"] }
        var errors: [FieldError] = []
        // The real server lifts a schema that every version shares to `spec.validation`, and
        // names it there in its messages.
        if let first = schemas.first, let schema = first, schemas.allSatisfy({ $0 == first }) {
            errors = CELRuleBudget.errors(schema: schema, base: "spec.validation.openAPIV3Schema")
        } else {
            for (i, schema) in schemas.enumerated() {
                guard let schema else { continue }
                errors += CELRuleBudget.errors(schema: schema, base: "spec.versions[\(i)].schema.openAPIV3Schema")
            }
        }
        guard errors.isEmpty else { throw .invalid(info, crd["metadata"]?["name"]?.string ?? "", errors) }
    }
}
