//! Template functions against the examples and expected outputs of Microsoft's function
//! reference pages (each test names its page), plus the hash values published by Azure.

use serde_json::{Value, json};
use vnetsim_arm::Identity;
use vnetsim_arm::eval::evaluate_expression;

fn ev(e: &str) -> Value {
    evaluate_expression(e, &Identity::default()).unwrap_or_else(|m| panic!("{e}: {m}"))
}

fn err(e: &str) -> String {
    evaluate_expression(e, &Identity::default()).expect_err(e)
}

/// [ARMSTR] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string
#[test]
fn armstr_concat_format_and_string_booleans_are_dotnet_true_false() {
    assert_eq!(
        ev("concat('prefix', '-', 'suffix')"),
        json!("prefix-suffix")
    );
    assert_eq!(ev("concat('vm', 1, '-', true())"), json!("vm1-True"));
    assert!(err("concat('vm', copyIndex(1))").contains("not inside a copy loop"));
    assert_eq!(
        ev("format('{0}, {1}. Formatted number: {2:N0}', 'Hello', 'User', 8175133)"),
        json!("Hello, User. Formatted number: 8,175,133")
    );
    assert_eq!(ev("format('{{{0}}}-{1:D3}', 'x', 7)"), json!("{x}-007"));
    assert_eq!(ev("format('[{0,5}|{0,-5}]', 'ab')"), json!("[   ab|ab   ]"));
    assert_eq!(
        ev("string(createObject('valueA', 10, 'valueB', 'Example Text'))"),
        json!("{\"valueA\":10,\"valueB\":\"Example Text\"}")
    );
    assert_eq!(
        ev("string(createArray('a', 'b', 'c'))"),
        json!("[\"a\",\"b\",\"c\"]")
    );
    assert_eq!(ev("string(5)"), json!("5"));
    assert_eq!(ev("string(true())"), json!("True"));
}

/// [ARMSTR] contains is case-sensitive for strings (case-insensitive for object keys);
/// indexOf, lastIndexOf, startsWith and endsWith compare case-insensitively.
#[test]
fn armstr_contains_is_case_sensitive_index_of_starts_with_are_not() {
    // contains: case-sensitive for strings, case-insensitive for object keys.
    assert_eq!(ev("contains('OneTwoThree', 'e')"), json!(true));
    assert_eq!(ev("contains('OneTwoThree', 'z')"), json!(false));
    assert_eq!(ev("contains('OneTwoThree', 'one')"), json!(false));
    assert_eq!(
        ev("contains(createObject('one', 'a', 'two', 'b'), 'ONE')"),
        json!(true)
    );
    assert_eq!(
        ev("contains(createArray('one', 'two', 'three'), 'three')"),
        json!(true)
    );
    // indexOf / lastIndexOf / startsWith / endsWith: case-insensitive.
    assert_eq!(ev("indexOf('test', 't')"), json!(0));
    assert_eq!(ev("indexOf('abcdef', 'CD')"), json!(2));
    assert_eq!(ev("indexOf('abcdef', 'z')"), json!(-1));
    assert_eq!(ev("lastIndexOf('test', 't')"), json!(3));
    assert_eq!(ev("lastIndexOf('abcdef', 'AB')"), json!(0));
    assert_eq!(ev("startsWith('abcdef', 'ab')"), json!(true));
    assert_eq!(ev("startsWith('abcdef', 'A')"), json!(true));
    assert_eq!(ev("startsWith('abcdef', 'e')"), json!(false));
    assert_eq!(ev("endsWith('abcdef', 'ef')"), json!(true));
    assert_eq!(ev("endsWith('abcdef', 'F')"), json!(true));
    assert_eq!(ev("endsWith('abcdef', 'e')"), json!(false));
}

#[test]
fn armstr_slicing_functions() {
    assert_eq!(ev("padLeft('123', 10, '0')"), json!("0000000123"));
    assert_eq!(ev("padLeft(7, 3, '0')"), json!("007"));
    assert_eq!(ev("padLeft('toolong', 3, '0')"), json!("toolong"));
    assert_eq!(ev("replace('123-123-1234', '-', '')"), json!("1231231234"));
    assert_eq!(
        ev("replace('123-123-1234', '1234', 'xxxx')"),
        json!("123-123-xxxx")
    );
    assert_eq!(
        ev("split('one,two,three', ',')"),
        json!(["one", "two", "three"])
    );
    assert_eq!(
        ev("split('one;two,three', createArray(',', ';'))"),
        json!(["one", "two", "three"])
    );
    assert_eq!(ev("split('a,,b', ',')"), json!(["a", "", "b"]));
    assert_eq!(ev("substring('one two three', 4, 3)"), json!("two"));
    assert_eq!(ev("substring('one two three', 4)"), json!("two three"));
    assert!(err("substring('abc', 2, 5)").contains("outside"));
    assert_eq!(ev("take('one two three', 2)"), json!("on"));
    assert_eq!(
        ev("take(createArray('one', 'two', 'three'), 2)"),
        json!(["one", "two"])
    );
    assert_eq!(ev("skip('one two three', 4)"), json!("two three"));
    assert_eq!(
        ev("skip(createArray('one', 'two', 'three'), 2)"),
        json!(["three"])
    );
    assert_eq!(ev("take('abc', 10)"), json!("abc"));
    assert_eq!(ev("skip('abc', -1)"), json!("abc"));
    assert_eq!(ev("toLower('One Two Three')"), json!("one two three"));
    assert_eq!(ev("toUpper('One Two Three')"), json!("ONE TWO THREE"));
    assert_eq!(ev("trim('    one two three   ')"), json!("one two three"));
    assert_eq!(ev("first('One Two Three')"), json!("O"));
    assert_eq!(ev("last('One Two Three')"), json!("e"));
    assert_eq!(ev("length('One Two Three')"), json!(13));
    assert_eq!(ev("empty('')"), json!(true));
    assert_eq!(ev("json('{\"a\": \"b\"}').a"), json!("b"));
    assert_eq!(ev("json('null')"), Value::Null);
    assert_eq!(
        ev("uri('http://contoso.org/firstpath', 'myscript.sh')"),
        json!("http://contoso.org/myscript.sh")
    );
}

/// [ARMHASH] `uniqueString`: Azure's published value (Azure/terraform-provider-azapi,
/// internal/services/functions/unique_string_function_test.go), through the expression path.
#[test]
fn armhash_unique_string_matches_azure() {
    assert_eq!(
        ev("uniqueString('/subscriptions/00000000-0000-0000-0000-000000000000', 'resource-id')"),
        json!("cwvxuqg24sifi")
    );
    // Same inputs, same value; the parts are joined with '-'.
    assert_eq!(ev("uniqueString('a', 'b')"), ev("uniqueString('a-b')"));
    assert_eq!(ev("length(uniqueString(resourceGroup().id))"), json!(13));
}

/// [ARMHASH] `guid`: UUID v5 (SHA-1) in ARM's namespace 11fb06fb-712d-4ddd-98c7-e71bbd588830 of the
/// parts joined with '-' (string functions page, "guid"; expected values from Python's
/// `uuid.uuid5`, an independent implementation of RFC 4122).
#[test]
fn armhash_guid_is_uuid_v5_in_the_arm_namespace() {
    assert_eq!(
        ev("guid('a', 'b', 'c')"),
        json!("a98fa280-e03f-5afa-8d8e-92d0a9c201e8")
    );
    assert_eq!(
        ev("guid(resourceGroup().id)"),
        json!("5dc1ad1f-fff4-572b-85d3-dcfca9310d2f")
    );
}

/// [ARMARR] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-array
#[test]
fn armarr_examples() {
    assert_eq!(ev("array(1)"), json!([1]));
    assert_eq!(ev("array('efgh')"), json!(["efgh"]));
    assert_eq!(
        ev("concat(createArray('1-1', '1-2', '1-3'), createArray('2-1', '2-2', '2-3'))"),
        json!(["1-1", "1-2", "1-3", "2-1", "2-2", "2-3"])
    );
    assert_eq!(ev("range(5, 3)"), json!([5, 6, 7]));
    assert_eq!(ev("range(0, 0)"), json!([]));
    assert!(err("range(1, -1)").contains("count"));
    assert_eq!(
        ev("union(createArray('one', 'two', 'three'), createArray('three', 'four'))"),
        json!(["one", "two", "three", "four"])
    );
    assert_eq!(
        ev("intersection(createArray('one', 'two', 'three'), createArray('two', 'three'))"),
        json!(["two", "three"])
    );
    assert_eq!(
        ev("first(createArray('one', 'two', 'three'))"),
        json!("one")
    );
    assert_eq!(
        ev("last(createArray('one', 'two', 'three'))"),
        json!("three")
    );
    assert_eq!(ev("first(createArray())"), Value::Null);
    assert_eq!(ev("length(createArray('a', 'b', 'c'))"), json!(3));
    assert_eq!(ev("empty(createArray())"), json!(true));
    assert_eq!(ev("max(createArray(0, 3, 2, 5, 4))"), json!(5));
    assert_eq!(ev("min(0, 3, 2, 5, 4)"), json!(0));
    assert_eq!(ev("join(createArray('a', 'b', 'c'), ',')"), json!("a,b,c"));
    assert_eq!(ev("createArray(1, 2, 3)[1]"), json!(2));
}

/// [ARMOBJ] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-object:
/// objects merge recursively, later values win; arrays inside are replaced, not merged.
#[test]
fn armobj_union_merges_nested_objects() {
    assert_eq!(
        ev(
            "union(createObject('one', 'a', 'two', 'b', 'three', 'c1'), createObject('three', 'c2', 'four', 'd', 'five', 'e'))"
        ),
        json!({"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"})
    );
    assert_eq!(
        ev(
            "union(json('{\"property\": {\"one\": \"a\", \"two\": \"b\", \"three\": \"c1\"}, \"nestedArray\": [1, 2]}'), \
            json('{\"property\": {\"three\": \"c2\", \"four\": \"d\", \"five\": \"e\"}, \"nestedArray\": [3, 4]}'))"
        ),
        json!({"property": {"one": "a", "two": "b", "three": "c2", "four": "d", "five": "e"}, "nestedArray": [3, 4]})
    );
    assert_eq!(
        ev("createObject('intProp', 1, 'stringProp', 'abc').stringProp"),
        json!("abc")
    );
    assert_eq!(ev("empty(json('{}'))"), json!(true));
    assert_eq!(ev("length(createObject('a', 1, 'b', 2))"), json!(2));
    assert_eq!(ev("coalesce(null(), null(), 1)"), json!(1));
    assert_eq!(ev("coalesce(null())"), Value::Null);
}

/// [ARMLOGIC] and the comparison and numeric function pages (template-functions-comparison,
/// template-functions-numeric).
#[test]
fn armlogic_comparison_logical_and_numeric() {
    assert_eq!(ev("equals(1, 1)"), json!(true));
    assert_eq!(ev("equals('a', 'A')"), json!(false));
    assert_eq!(
        ev("equals(createArray('a', 'b'), createArray('a', 'b'))"),
        json!(true)
    );
    assert_eq!(ev("less(1, 10)"), json!(true));
    assert_eq!(ev("less('A', 'a')"), json!(true));
    assert_eq!(ev("lessOrEquals(10, 10)"), json!(true));
    assert_eq!(ev("greater('A', 'a')"), json!(false));
    assert_eq!(ev("greaterOrEquals(11, 10)"), json!(true));
    assert_eq!(ev("and(true(), false())"), json!(false));
    assert_eq!(ev("or(true(), false())"), json!(true));
    assert_eq!(ev("not(true())"), json!(false));
    assert_eq!(ev("bool('true')"), json!(true));
    assert_eq!(ev("bool(0)"), json!(false));
    assert_eq!(ev("bool(1)"), json!(true));
    assert_eq!(ev("add(5, 3)"), json!(8));
    assert_eq!(ev("sub(7, 3)"), json!(4));
    assert_eq!(ev("mul(5, 3)"), json!(15));
    assert_eq!(ev("div(8, 3)"), json!(2));
    assert_eq!(ev("div(-7, 2)"), json!(-3));
    assert_eq!(ev("mod(7, 3)"), json!(1));
    assert_eq!(ev("int('4')"), json!(4));
    assert!(err("div(1, 0)").contains("division by zero"));
    assert!(err("int('four')").contains("cannot convert"));
}

/// [ARMLOGIC] "if": when the condition is true only the true value is evaluated, and when it
/// is false only the false value, so a branch may hold an expression valid only there
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-logical#if).
#[test]
fn armlogic_if_evaluates_only_the_chosen_branch() {
    assert_eq!(ev("if(equals('a', 'a'), 'yes', 'no')"), json!("yes"));
    assert_eq!(ev("if(true(), 'ok', parameters('missing'))"), json!("ok"));
    assert_eq!(ev("if(false(), createArray(1)[5], 'fine')"), json!("fine"));
    assert!(err("if(true(), createArray(1)[5], 'fine')").contains("out of range"));
    assert!(err("if('yes', 1, 2)").contains("boolean"));
    // An untaken branch that would fail: replace() with an empty old string.
    assert_eq!(ev("if(true(), 'ok', replace('abc', '', 'y'))"), json!("ok"));
    assert_eq!(
        ev("if(false(), replace('abc', '', 'y'), 'ok')"),
        json!("ok")
    );
    assert!(err("if(false(), 'ok', replace('abc', '', 'y'))").contains("cannot be empty"));
}

/// [ARMSTR] `replace` is case-sensitive and replaces every occurrence; an empty old string is
/// an error, as .NET's `String.Replace` makes it (the page is silent on it).
#[test]
fn armstr_replace_is_case_sensitive_and_rejects_an_empty_old_string() {
    assert_eq!(ev("replace('aAaA', 'a', 'b')"), json!("bAbA"));
    assert!(err("replace('abc', '', 'y')").contains("cannot be empty"));
}

/// [ARMRES] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-resource#resourceid
#[test]
fn armres_resource_id_forms() {
    let rg = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/vnetsim-rg";
    assert_eq!(
        ev("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub')"),
        json!(format!(
            "{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/sub"
        ))
    );
    assert_eq!(
        ev(
            "resourceId('otherResourceGroup', 'Microsoft.Storage/storageAccounts', 'examplestorage')"
        ),
        json!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"
        )
    );
    assert_eq!(
        ev(
            "resourceId('11111111-1111-1111-1111-111111111111', 'otherResourceGroup', 'Microsoft.Storage/storageAccounts', 'examplestorage')"
        ),
        json!(
            "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/otherResourceGroup/providers/Microsoft.Storage/storageAccounts/examplestorage"
        )
    );
    assert_eq!(
        ev(
            "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')"
        ),
        json!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
        )
    );
    assert_eq!(
        ev("tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p1')"),
        json!("/providers/Microsoft.Authorization/policyDefinitions/p1")
    );
    // A combined name splits into the type's segments.
    assert_eq!(
        ev("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet/sub')"),
        ev("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'sub')")
    );
    assert!(
        err("resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')")
            .contains("needs 2 name segment")
    );
    assert_eq!(ev("resourceGroup().id"), json!(rg));
    assert_eq!(ev("resourceGroup().location"), json!("westeurope"));
    assert_eq!(
        ev("subscription().subscriptionId"),
        json!("00000000-0000-0000-0000-000000000000")
    );
    assert_eq!(
        ev("environment().suffixes.storage"),
        json!("core.windows.net")
    );
    assert_eq!(ev("deployment().name"), json!("vnetsim"));
}

#[test]
fn identities_are_the_callers_placeholders() {
    let id = Identity {
        subscription_id: "sub-1".into(),
        resource_group: "rg-1".into(),
        location: "eastus".into(),
        ..Identity::default()
    };
    assert_eq!(
        evaluate_expression("resourceGroup().id", &id).unwrap(),
        json!("/subscriptions/sub-1/resourceGroups/rg-1")
    );
    assert_eq!(
        evaluate_expression("resourceGroup().location", &id).unwrap(),
        json!("eastus")
    );
}

/// [ARMSYN] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions
#[test]
fn armsyn_escapes_case_insensitive_access_and_errors() {
    assert_eq!(ev("concat('it''s', ' ok')"), json!("it's ok"));
    assert_eq!(
        ev("createObject('A', createArray(1, 2)).a[1]"),
        json!(2),
        "property access is case-insensitive"
    );
    assert_eq!(ev("createObject('a', 1)['A']"), json!(1));
    assert!(err("createObject('a', 1).b").contains("no property 'b'"));
    assert!(err("createArray(1)[3]").contains("out of range"));
    assert!(err("noSuchFunction(1)").contains("'noSuchFunction' is not supported"));
    assert!(err("concat('a'").contains("expected ',' or ')'"));
    assert!(err("copyIndex()").contains("not inside a copy loop"));
    assert!(err("parameters('x')").contains("no parameter 'x'"));
}

/// [ARMSTR] `format` writes booleans as `False`/`True` and objects and arrays as compact JSON
/// with single quotes: ARM's evaluator in Azure/bicep
/// `src/Bicep.Core.IntegrationTests/EvaluationTests.cs` (`String_expressions_are_evaluated_successfully`:
/// `>False<>12948<>hello!<>{'a':'b','!c':2}<>[true,2893,'abc']<`). Keys here are chosen in
/// sorted order: vnetsim keeps object keys sorted (serde_json without `preserve_order`).
#[test]
fn armstr_format_writes_objects_with_single_quotes() {
    assert_eq!(
        ev(
            "format('>{0}<>{1}<>{2}<>{3}<>{4}<', false(), 12948, 'hello!', createObject('!c', 2, 'a', 'b'), createArray(true(), 2893, 'abc'))"
        ),
        json!(">False<>12948<>hello!<>{'!c':2,'a':'b'}<>[true,2893,'abc']<")
    );
    assert_eq!(
        ev("format('{0}', createArray('it''s'))"),
        json!("['it\\'s']")
    );
}

/// [ARMSTR] `json()` reads what the ARM engine's JSON reader reads, single-quoted strings
/// included (the string functions page's `"{'one': 'a', 'two': 'b'}"` example data).
#[test]
fn armstr_json_accepts_single_quoted_strings() {
    assert_eq!(
        ev("json('{''one'': ''a'', ''two'': ''b''}')"),
        json!({"one": "a", "two": "b"})
    );
    assert_eq!(ev("json('[1, 2, 3]')[2]"), json!(3));
    assert!(err("json('{one: 1}')").contains("not valid JSON"));
}

/// [ARMSTR] base64 functions: the string functions page's example (`one, two, three` is
/// `b25lLCB0d28sIHRocmVl`; `{'one': 'a', 'two': 'b'}` decodes to an object).
#[test]
fn armstr_base64_examples() {
    assert_eq!(
        ev("base64('one, two, three')"),
        json!("b25lLCB0d28sIHRocmVl")
    );
    assert_eq!(
        ev("base64ToString('b25lLCB0d28sIHRocmVl')"),
        json!("one, two, three")
    );
    assert_eq!(
        ev("base64ToJson(base64('{''one'': ''a'', ''two'': ''b''}'))"),
        json!({"one": "a", "two": "b"})
    );
    assert_eq!(ev("base64('a')"), json!("YQ=="));
    assert_eq!(ev("base64('ab')"), json!("YWI="));
    assert!(err("base64ToString('*')").contains("not base64"));
}

/// [ARMOBJ] `items` turns an object into `{key, value}` entries sorted by key.
#[test]
fn armobj_items_sorts_by_key() {
    assert_eq!(
        ev("items(createObject('item002', 'b', 'item001', 'a'))"),
        json!([{"key": "item001", "value": "a"}, {"key": "item002", "value": "b"}])
    );
}

/// [ARMLAMBDA] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-lambda
/// (the page's dog examples, reduced).
#[test]
fn armlambda_filter_map_reduce_sort_to_object() {
    let dogs = "json('[{\"name\": \"Evie\", \"age\": 5}, {\"name\": \"Casper\", \"age\": 3}, {\"name\": \"Indy\", \"age\": 2}, {\"name\": \"Kira\", \"age\": 8}]')";
    assert_eq!(
        ev(&format!(
            "map(filter({dogs}, lambda('dog', greaterOrEquals(lambdaVariables('dog').age, 5))), lambda('dog', lambdaVariables('dog').name))"
        )),
        json!(["Evie", "Kira"])
    );
    assert_eq!(
        ev(&format!(
            "reduce({dogs}, 0, lambda('cur', 'next', add(lambdaVariables('cur'), lambdaVariables('next').age)))"
        )),
        json!(18)
    );
    assert_eq!(
        ev(&format!(
            "map(sort({dogs}, lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age))), lambda('d', lambdaVariables('d').name))"
        )),
        json!(["Indy", "Casper", "Evie", "Kira"])
    );
    assert_eq!(
        ev(&format!(
            "toObject({dogs}, lambda('d', lambdaVariables('d').name), lambda('d', lambdaVariables('d').age)).Kira"
        )),
        json!(8)
    );
    assert_eq!(
        ev("map(range(0, 3), lambda('x', 'i', add(lambdaVariables('x'), lambdaVariables('i'))))"),
        json!([0, 2, 4])
    );
    assert!(err("lambdaVariables('x')").contains("not inside a lambda"));
    assert!(err("map(createArray(1), 'notalambda')").contains("expects a lambda"));
    assert!(err("filter(createArray(1), lambda('x', 1))").contains("not a boolean"));
}

/// [ARMSTR] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string
/// (uriComponent, uriComponentToString, dataUri, dataUriToString examples).
#[test]
fn armstr_uri_component_and_data_uri_round_trip() {
    assert_eq!(
        ev("uriComponent('http://contoso.com/resources/nested/azuredeploy.json')"),
        json!("http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json")
    );
    assert_eq!(
        ev(
            "uriComponentToString('http%3A%2F%2Fcontoso.com%2Fresources%2Fnested%2Fazuredeploy.json')"
        ),
        json!("http://contoso.com/resources/nested/azuredeploy.json")
    );
    assert_eq!(ev("uriComponent('a b~é')"), json!("a%20b~%C3%A9"));
    assert!(err("uriComponentToString('%zz')").contains("percent-encoded"));
    assert_eq!(
        ev("dataUri('Hello')"),
        json!("data:text/plain;charset=utf8;base64,SGVsbG8=")
    );
    assert_eq!(
        ev("dataUriToString('data:;base64,SGVsbG8sIFdvcmxkIQ==')"),
        json!("Hello, World!")
    );
    assert!(err("dataUriToString('Hello')").contains("not a data URI"));
}

/// [ARMSTR] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-date
/// (dateTimeAdd, dateTimeFromEpoch, dateTimeToEpoch examples).
#[test]
fn armstr_date_time_add_and_epoch_follow_the_date_functions_page() {
    assert_eq!(
        ev("dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y')"),
        json!("4/7/2023 2:53:14 PM")
    );
    assert_eq!(
        ev("dateTimeAdd('2020-04-07 14:53:14Z', '-PT9H')"),
        json!("4/7/2020 5:53:14 AM")
    );
    assert_eq!(
        ev("dateTimeAdd('2020-04-07 14:53:14Z', 'PT1H30M')"),
        json!("4/7/2020 4:23:14 PM")
    );
    assert_eq!(
        ev("dateTimeAdd('2024-01-31T00:00:00Z', 'P1M', 'yyyy-MM-dd')"),
        json!("2024-02-29")
    );
    assert_eq!(
        ev("dateTimeAdd('2024-10-19 00:00:00Z', 'P2D', 'u')"),
        json!("2024-10-21 00:00:00Z")
    );
    assert_eq!(
        ev("dateTimeToEpoch('2023-02-23T00:00:00Z')"),
        json!(1677110400)
    );
    assert_eq!(
        ev("dateTimeFromEpoch(1683040573)"),
        json!("2023-05-02T15:16:13Z")
    );
    assert!(err("dateTimeAdd('yesterday', 'P1D')").contains("ISO 8601 date"));
    assert!(err("dateTimeAdd('2020-04-07', 'P')").contains("ISO 8601 duration"));
}

/// [ARMOBJ] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-object
/// (tryGet) and template-functions-resource (pickZones).
#[test]
fn armobj_try_get_is_null_when_missing_and_pick_zones_counts_from_the_offset() {
    assert_eq!(
        ev("tryGet(createObject('a', createObject('b', 1)), 'a', 'b')"),
        json!(1)
    );
    assert_eq!(ev("tryGet(createObject('a', 1), 'c')"), Value::Null);
    assert_eq!(ev("tryGet(createArray(1, 2), 5)"), Value::Null);
    assert_eq!(
        ev("pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')"),
        json!(["1"])
    );
    assert_eq!(
        ev("pickZones('Microsoft.Network', 'azureFirewalls', 'westus2', 3)"),
        json!(["1", "2", "3"])
    );
    assert_eq!(
        ev("pickZones('Microsoft.Network', 'azureFirewalls', 'westus2', 2, 2)"),
        json!(["3"])
    );
}

/// [ARMSTR] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-cidr
/// (parseCidr, cidrSubnet, cidrHost examples).
#[test]
fn armstr_cidr_functions_follow_the_cidr_page() {
    assert_eq!(
        ev("parseCidr('10.144.0.0/20')"),
        json!({"network": "10.144.0.0", "netmask": "255.255.240.0", "broadcast": "10.144.15.255",
               "firstUsable": "10.144.0.1", "lastUsable": "10.144.15.254", "cidr": 20})
    );
    assert_eq!(
        ev("cidrSubnet('10.144.0.0/20', 24, 0)"),
        json!("10.144.0.0/24")
    );
    assert_eq!(
        ev("cidrSubnet('10.144.0.0/20', 24, 15)"),
        json!("10.144.15.0/24")
    );
    assert!(err("cidrSubnet('10.144.0.0/20', 24, 16)").contains("outside 0 to 15"));
    assert_eq!(ev("cidrHost('10.144.3.0/24', 0)"), json!("10.144.3.1"));
    assert_eq!(ev("cidrHost('10.144.3.0/24', 253)"), json!("10.144.3.254"));
    assert!(err("cidrHost('10.144.3.0/24', 254)").contains("outside"));
}

/// [ARMDEPLOY] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-deployment#environment:
/// the public cloud's suffixes, Front Door's among them.
#[test]
fn armdeploy_environment_suffixes_include_front_door() {
    assert_eq!(
        ev("environment().suffixes.azureFrontDoorEndpointSuffix"),
        json!("azurefd.net")
    );
    assert_eq!(
        ev("environment().suffixes.storage"),
        json!("core.windows.net")
    );
}

/// [ARMLOGIC] https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-numeric#float:
/// `float(arg1)`, arg1 a string or an integer, returns a floating point number.
#[test]
fn armlogic_float_converts_strings_and_integers() {
    assert_eq!(ev("float('3.0')"), json!(3.0));
    assert_eq!(ev("float(4)"), json!(4.0));
    assert_eq!(ev("float('1.5')"), json!(1.5));
    assert!(err("float('abc')").contains("cannot convert"));
    assert!(err("float(createArray())").contains("cannot convert"));
}
