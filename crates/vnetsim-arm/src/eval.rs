//! Template evaluation: parameters, variables, resources (copy loops, conditions, child
//! resources), nested and linked deployments, outputs.
//!
//! What it is for: [`evaluate`] turns a template value and [`EvalOptions`] into an
//! [`EvaluatedTemplate`]: every deployed resource with its full type and name, resource id
//! and fully evaluated declaration, in deployment-file order, with the JSON path it came from.
//! Semantics follow Azure's pages: template syntax
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/syntax>), copy loops
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources>,
//! `copy-properties`, `copy-variables`, `copy-outputs`), child resources
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/child-resource-name-type>)
//! nested templates
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/linked-templates>)
//! and user-defined functions
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/user-defined-functions>).
//! What it is not: a deployment engine. `dependsOn` is ignored (file order is kept), and a
//! `reference()` to a resource of the template is asked of the caller's
//! [`ReferenceResolver`], or left as a [`Deferred`] value the mapping resolves later.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::expr::{self, Expr, Template};
use crate::functions::{self, as_int, as_str, kind, to_display};
use crate::{ArmError, Deferred, EvaluatedTemplate, Resource};

/// The placeholder identities the template's `subscription()`, `resourceGroup()`,
/// `tenant()` and `deployment()` return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `subscription().subscriptionId`.
    pub subscription_id: String,
    /// `resourceGroup().name`.
    pub resource_group: String,
    /// `resourceGroup().location` (and the default of `location` parameters using it).
    pub location: String,
    /// `subscription().tenantId`, `tenant().tenantId`.
    pub tenant_id: String,
    /// `deployment().name` of the top-level deployment.
    pub deployment_name: String,
    /// `managementGroup().name`, for management group scope templates.
    pub management_group: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            subscription_id: "00000000-0000-0000-0000-000000000000".into(),
            resource_group: "vnetsim-rg".into(),
            location: "westeurope".into(),
            tenant_id: "11111111-1111-1111-1111-111111111111".into(),
            deployment_name: "vnetsim".into(),
            management_group: "vnetsim-mg".into(),
        }
    }
}

/// What `reference(...)` asks of the caller for a resource the template declares or one
/// outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRequest<'a> {
    /// The first argument as evaluated (a name or a resource id).
    pub target: &'a str,
    /// The resource id, when the target names a resource this evaluation has produced.
    pub resource_id: Option<&'a str>,
    /// The API version argument, if any.
    pub api_version: Option<&'a str>,
    /// `'Full'` was passed: the whole resource, not only its properties.
    pub full: bool,
}

/// Resolves `reference(...)` to runtime state (for example a NIC's private IP). `None`
/// leaves the value deferred.
pub trait ReferenceResolver {
    /// The value `reference(...)` returns, if the caller knows it.
    fn resolve(&self, request: &ReferenceRequest<'_>) -> Option<Value>;
}

/// Inputs of an evaluation besides the template.
#[derive(Default)]
pub struct EvalOptions<'r> {
    /// Placeholder identities.
    pub identity: Identity,
    /// Parameter values (a parameters file's `value`s, see [`crate::parse_parameters_file`]).
    pub parameters: BTreeMap<String, Value>,
    /// `--set name=value` overrides; each text is converted to the parameter's declared type.
    pub overrides: BTreeMap<String, String>,
    /// The directory linked templates' relative paths are resolved against.
    pub template_dir: Option<PathBuf>,
    /// `deployment().properties.templateLink.uri`, when the template came from a file.
    pub template_uri: Option<String>,
    /// Resolver for `reference(...)`.
    pub resolver: Option<&'r dyn ReferenceResolver>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ScopeKind {
    ResourceGroup,
    Subscription,
    ManagementGroup,
    Tenant,
}

/// Why an expression produced no value.
enum Fail {
    /// A real error (the message names the function and what was wrong).
    Error(String),
    /// Depends on a `reference()` only known at deployment time.
    Deferred(String),
    /// Depends on the outputs of a nested deployment not evaluated yet.
    Pending(String),
    /// A nested template's own error, already naming its file and path.
    Arm(Box<ArmError>),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Error(s)
    }
}

type R<T> = Result<T, Fail>;

/// One loop the current value is inside: its name (`None` for an unnamed resource loop) and
/// the index.
#[derive(Clone, Debug)]
struct Loop {
    name: Option<String>,
    index: i64,
    resource: bool,
    /// A lambda variable's value (`lambdaVariables(name)`); such entries are not loops.
    value: Option<Value>,
}

/// State shared by every template of one evaluation.
struct Engine<'r> {
    resolver: Option<&'r dyn ReferenceResolver>,
    out: RefCell<EvaluatedTemplate>,
    /// Resource ids produced so far, lower-case name and lower-case id to id.
    by_name: RefCell<HashMap<String, String>>,
    depth: RefCell<usize>,
    /// How many `newGuid()` values this evaluation has given.
    new_guids: RefCell<u64>,
    /// Bytes of values this evaluation has produced so far (see [`MAX_EVALUATED`]).
    evaluated: Cell<usize>,
}

impl Engine<'_> {
    /// Counts `bytes` more of produced values (`what` produced them) against
    /// [`MAX_EVALUATED`].
    fn spend(&self, bytes: usize, what: impl FnOnce() -> String) -> R<()> {
        let total = self.evaluated.get().saturating_add(bytes);
        self.evaluated.set(total);
        if total > MAX_EVALUATED {
            return Err(Fail::Error(format!(
                "{}: the evaluation has produced more than {MAX_EVALUATED} bytes of values, {} times the 4 MB Azure allows an expanded template; a loop or a variable multiplies the template past what Azure deploys",
                what(),
                MAX_EVALUATED / functions::MAX_VALUE
            )));
        }
        Ok(())
    }
}

/// One template's evaluation context.
struct Scope<'e, 'r> {
    engine: &'e Engine<'r>,
    file: String,
    /// The scope `resourceGroup()`, `subscription()` and `resourceId()` read.
    kind: ScopeKind,
    identity: Identity,
    /// Where this template's resources are deployed: the same as `identity` except for a
    /// nested template in outer scope, whose expressions read the parent's scope.
    target: Identity,
    target_kind: ScopeKind,
    /// Lower-case parameter name to (declaration, supplied value).
    params: HashMap<String, (Value, Option<Value>)>,
    param_cache: RefCell<HashMap<String, Value>>,
    vars: HashMap<String, Value>,
    var_cache: RefCell<HashMap<String, Value>>,
    in_progress: RefCell<HashSet<String>>,
    /// Lower-case nested deployment name to its outputs, once evaluated.
    deployments: RefCell<HashMap<String, Value>>,
    /// (Lower-case deployment name, lower-case output name) of the nested deployments' outputs
    /// known only at deployment time (kept as written).
    deferred_outputs: RefCell<HashSet<(String, String)>>,
    /// Lower-case names of the nested deployments this template declares.
    declared_deployments: HashSet<String>,
    dir: Option<PathBuf>,
    template_uri: Option<String>,
    chain: Vec<String>,
    /// The template's user-defined functions, by lower-case `namespace.member` [ARMUDF].
    functions: HashMap<String, UserFunction>,
    /// `languageVersion` 2.0 or later: a user-defined function may read the template's
    /// variables and call other user-defined functions, as Bicep compiles its `func`s.
    language_v2: bool,
    /// The user-defined function calls being evaluated, innermost last.
    frames: RefCell<Vec<Frame>>,
    /// Lower-case names of the parameters a nested deployment passed a value known only at
    /// deployment time (kept as written).
    deferred_params: HashSet<String>,
}

/// A user-defined function of the template's `functions` section [ARMUDF].
#[derive(Clone, Debug)]
struct UserFunction {
    /// `namespace.member` as declared.
    name: String,
    /// Where it is declared (`functions[0].members.uniqueName`).
    path: String,
    /// Its parameters in order: name as declared and declaration.
    params: Vec<(String, Value)>,
    /// `output` (`type` and `value`).
    output: Value,
}

/// One call of a user-defined function: what `parameters()` reads inside it.
struct Frame {
    name: String,
    /// Lower-case parameter name to its argument.
    args: HashMap<String, Value>,
    /// The parameter names as declared, for messages.
    declared: Vec<String>,
}

/// How deeply user-defined function calls may nest (a languageVersion 2.0 function that
/// calls itself would otherwise never end).
const MAX_CALL_DEPTH: usize = 32;

const MAX_NESTING: usize = 16;
/// Azure's limit on a copy loop's count
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/copy-resources#copy-limits).
const MAX_COPY: i64 = 800;

/// Most bytes (as JSON text, see [`functions::value_size`]) of values one evaluation may produce:
/// every function result, copy loop item and resource counted as made, so a template whose
/// loops or variables multiply it (800 copies of 800 property copies of an array, variables
/// each twice the last) ends in an error, not in exhausted memory or time. Azure allows an
/// expanded template 4 MB and each resource 1 MB
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/error-job-size-exceeded);
/// this allows the 4 MB once per nested deployment level ([`MAX_NESTING`]), so no template Azure
/// deploys reaches it.
const MAX_EVALUATED: usize = MAX_NESTING * functions::MAX_VALUE;

/// The largest resource declaration, once evaluated: Azure's 1 MB
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/error-job-size-exceeded).
const MAX_RESOURCE: usize = 1 << 20;

/// Evaluates `template` (a parsed template file) into resources and outputs.
pub fn evaluate(template: &Value, opts: &EvalOptions<'_>) -> Result<EvaluatedTemplate, ArmError> {
    let engine = Engine {
        resolver: opts.resolver,
        out: RefCell::new(EvaluatedTemplate::default()),
        by_name: RefCell::new(HashMap::new()),
        depth: RefCell::new(0),
        new_guids: RefCell::new(0),
        evaluated: Cell::new(0),
    };
    let file = opts
        .template_uri
        .clone()
        .unwrap_or_else(|| "template".into());
    let mut supplied: BTreeMap<String, Value> = opts.parameters.clone();
    let decls = template
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, text) in &opts.overrides {
        let decl = decls
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, d)| d);
        let Some(decl) = decl else {
            return Err(ArmError::Parameter {
                name: name.clone(),
                message: format!(
                    "--set {name}: the template declares no such parameter (declared: {})",
                    names(&decls)
                ),
            });
        };
        let ty = decl
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("string")
            .to_ascii_lowercase();
        let v = convert_override(&ty, text).map_err(|message| ArmError::Parameter {
            name: name.clone(),
            message,
        })?;
        supplied.insert(name.clone(), v);
    }
    let scope = Scope::new(
        &engine,
        file,
        template,
        supplied,
        opts.identity.clone(),
        opts.template_dir.clone(),
        opts.template_uri.clone(),
        Vec::new(),
    )?;
    let outputs = scope.run(template, "")?;
    let mut out = engine.out.into_inner();
    out.outputs = outputs;
    Ok(out)
}

fn names(m: &Map<String, Value>) -> String {
    m.keys().cloned().collect::<Vec<_>>().join(", ")
}

fn convert_override(ty: &str, text: &str) -> Result<Value, String> {
    Ok(match ty {
        "int" => Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| format!("'{text}' is not an integer"))?,
        ),
        "bool" => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("'{text}' is not true or false")),
        },
        "array" | "object" | "secureobject" => {
            crate::json::parse(text).map_err(|e| format!("'{text}' is not JSON: {e}"))?
        }
        _ => Value::String(text.to_string()),
    })
}

fn lookup<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|m| lookup(m, key))
}

fn scope_kind(template: &Value) -> ScopeKind {
    let schema = get(template, "$schema")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if schema.contains("subscriptiondeploymenttemplate") {
        ScopeKind::Subscription
    } else if schema.contains("managementgroupdeploymenttemplate") {
        ScopeKind::ManagementGroup
    } else if schema.contains("tenantdeploymenttemplate") {
        ScopeKind::Tenant
    } else {
        ScopeKind::ResourceGroup
    }
}

impl<'e, 'r> Scope<'e, 'r> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: &'e Engine<'r>,
        file: String,
        template: &Value,
        supplied: BTreeMap<String, Value>,
        identity: Identity,
        dir: Option<PathBuf>,
        template_uri: Option<String>,
        chain: Vec<String>,
    ) -> Result<Self, ArmError> {
        let err = |path: &str, message: String| ArmError::Template {
            file: file.clone(),
            position: None,
            path: path.into(),
            message,
        };
        if !template.is_object() {
            return Err(err("", "a template must be a JSON object".into()));
        }
        let mut params = HashMap::new();
        if let Some(p) = get(template, "parameters") {
            let p = p
                .as_object()
                .ok_or_else(|| err("parameters", "must be an object".into()))?;
            for (k, d) in p {
                params.insert(k.to_lowercase(), (d.clone(), None));
            }
        }
        for (k, v) in supplied {
            match params.get_mut(&k.to_lowercase()) {
                Some(slot) => slot.1 = Some(v),
                None => {
                    return Err(ArmError::Parameter {
                        name: k.clone(),
                        message: format!(
                            "a value was given for '{k}', which the template does not declare"
                        ),
                    });
                }
            }
        }
        let mut vars = HashMap::new();
        if let Some(v) = get(template, "variables") {
            let v = v
                .as_object()
                .ok_or_else(|| err("variables", "must be an object".into()))?;
            for (k, x) in v {
                if k.eq_ignore_ascii_case("copy") {
                    let loops = x
                        .as_array()
                        .ok_or_else(|| err("variables.copy", "must be an array".into()))?;
                    for (i, l) in loops.iter().enumerate() {
                        let name = get(l, "name").and_then(Value::as_str).ok_or_else(|| {
                            err(&format!("variables.copy[{i}].name"), "missing".into())
                        })?;
                        vars.insert(
                            name.to_lowercase(),
                            json!({"$copy": l, "$path": format!("variables.copy[{i}]")}),
                        );
                    }
                } else {
                    vars.insert(k.to_lowercase(), x.clone());
                }
            }
        }
        let declared_deployments = declared_deployment_names(template);
        let functions = user_functions(template).map_err(|(path, m)| err(&path, m))?;
        let language_v2 = get(template, "languageVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.split(['.', '-']).next()?.trim().parse::<u32>().ok())
            .is_some_and(|major| major >= 2);
        Ok(Self {
            engine,
            file,
            kind: scope_kind(template),
            target: identity.clone(),
            target_kind: scope_kind(template),
            identity,
            params,
            param_cache: RefCell::default(),
            vars,
            var_cache: RefCell::default(),
            in_progress: RefCell::default(),
            deployments: RefCell::default(),
            deferred_outputs: RefCell::default(),
            declared_deployments,
            dir,
            template_uri,
            chain,
            functions,
            language_v2,
            frames: RefCell::default(),
            deferred_params: HashSet::new(),
        })
    }

    fn management_group_id(&self) -> String {
        format!(
            "/providers/Microsoft.Management/managementGroups/{}",
            self.identity.management_group
        )
    }

    fn err(&self, path: &str, message: impl Into<String>) -> ArmError {
        ArmError::Template {
            file: self.file.clone(),
            position: None,
            path: path.to_string(),
            message: message.into(),
        }
    }

    fn fail(&self, path: &str, f: Fail) -> ArmError {
        match f {
            // A message that starts with a longer path than `path` names its own place.
            Fail::Error(m) => match m.split_once(": ") {
                Some((p, rest)) if p.starts_with(path) && !p.contains(' ') => self.err(p, rest),
                _ => self.err(path, m),
            },
            Fail::Arm(e) => *e,
            Fail::Deferred(m) => self.err(path, format!("needs a value known only at deployment time: {m}")),
            Fail::Pending(d) => self.err(path, format!("needs the outputs of nested deployment '{d}', which never completed (a cycle between deployments?)")),
        }
    }

    /// Checks every parameter has a value, evaluates resources, then outputs.
    fn run(&self, template: &Value, prefix: &str) -> Result<BTreeMap<String, Value>, ArmError> {
        let mut keys: Vec<&String> = self.params.keys().collect();
        keys.sort();
        for k in keys {
            self.param(k)
                .map_err(|f| self.fail(&format!("{prefix}parameters.{k}"), f))?;
        }
        self.run_resources(template, prefix)?;
        self.outputs(template, prefix)
    }

    /// Evaluates a template's resources with this scope's parameters and variables (a nested
    /// template in outer scope is run by a copy of its parent's scope).
    fn run_resources(&self, template: &Value, prefix: &str) -> Result<(), ArmError> {
        let Some(res) = get(template, "resources") else {
            return Ok(());
        };
        let items: Vec<(String, &Value)> = match res {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("{prefix}resources[{i}]"), r))
                .collect(),
            Value::Object(o) => o
                .iter()
                .map(|(k, r)| (format!("{prefix}resources.{k}"), r))
                .collect(),
            _ => {
                return Err(self.err(
                    &format!("{prefix}resources"),
                    "must be an array (or an object of symbolic names)",
                ));
            }
        };
        // Deployment order: file order, except that a resource needing the outputs of a
        // nested deployment not evaluated yet waits for it (passes until no progress).
        let mut pending: Vec<(String, &Value)> = items;
        loop {
            let mut waiting = Vec::new();
            let mut progress = false;
            let mut last_pending = None;
            for (path, r) in pending {
                let mark = {
                    let out = self.engine.out.borrow();
                    (out.resources.len(), out.deferred.len(), out.warnings.len())
                };
                match self.resource(r, &path, None, &[]) {
                    Ok(()) => {
                        progress = true;
                        // A languageVersion 2.0 symbolic name stands for its resource in
                        // `reference()`, as a name would.
                        let out = self.engine.out.borrow();
                        if let (Some(sym), [one]) = (
                            path.strip_prefix(&format!("{prefix}resources.")),
                            &out.resources[mark.0..],
                        ) {
                            self.engine
                                .by_name
                                .borrow_mut()
                                .insert(sym.to_lowercase(), one.id.clone());
                        }
                    }
                    Err(Fail::Pending(d)) => {
                        // Undo what the attempt recorded; it is evaluated again later.
                        let mut out = self.engine.out.borrow_mut();
                        out.resources.truncate(mark.0);
                        out.deferred.truncate(mark.1);
                        out.warnings.truncate(mark.2);
                        last_pending = Some((path.clone(), d));
                        waiting.push((path, r));
                    }
                    Err(f) => return Err(self.fail(&path, f)),
                }
            }
            if waiting.is_empty() {
                return Ok(());
            }
            if !progress {
                let (path, d) = last_pending.unwrap_or_default();
                return Err(self.fail(&path, Fail::Pending(d)));
            }
            pending = waiting;
        }
    }

    fn outputs(&self, template: &Value, prefix: &str) -> Result<BTreeMap<String, Value>, ArmError> {
        let mut out = BTreeMap::new();
        let Some(o) = get(template, "outputs").and_then(Value::as_object) else {
            return Ok(out);
        };
        for (k, decl) in o {
            let path = format!("{prefix}outputs.{k}");
            if let Some(c) = get(decl, "condition") {
                let c = self
                    .value(c, &format!("{path}.condition"), &[])
                    .map_err(|f| self.fail(&path, f))?;
                if c == Value::Bool(false) {
                    continue;
                }
            }
            let v = if let Some(copy) = get(decl, "copy") {
                let count = get(copy, "count")
                    .ok_or_else(|| self.err(&format!("{path}.copy"), "needs a count"))?;
                let count = self
                    .int_value(count, &format!("{path}.copy.count"), &[])
                    .map_err(|f| self.fail(&path, f))?;
                let input = get(copy, "input")
                    .ok_or_else(|| self.err(&format!("{path}.copy"), "needs an input"))?;
                let mut items = Vec::new();
                for i in 0..count {
                    let l = [Loop {
                        name: None,
                        index: i,
                        resource: true,
                        value: None,
                    }];
                    items.push(self.value_lenient(input, &format!("{path}.copy.input"), &l)?);
                }
                Value::Array(items)
            } else {
                let v = get(decl, "value")
                    .ok_or_else(|| self.err(&path, "an output needs a value or a copy"))?;
                self.value_lenient(v, &format!("{path}.value"), &[])?
            };
            out.insert(k.clone(), v);
        }
        Ok(out)
    }

    /// Evaluates `v`, recording deferred sub-values instead of failing.
    fn value_lenient(&self, v: &Value, path: &str, loops: &[Loop]) -> Result<Value, ArmError> {
        self.value_in(v, path, loops, true)
            .map_err(|f| self.fail(path, f))
    }

    fn value(&self, v: &Value, path: &str, loops: &[Loop]) -> R<Value> {
        self.value_in(v, path, loops, false)
    }

    fn int_value(&self, v: &Value, path: &str, loops: &[Loop]) -> R<i64> {
        let x = self.value(v, path, loops)?;
        x.as_i64()
            .ok_or_else(|| Fail::Error(format!("{path}: expected an integer, got {}", kind(&x))))
    }

    /// Evaluates every expression in `v`, expanding property `copy` arrays. With `lenient`,
    /// a string whose expression is deferred is kept as written and listed in `deferred`.
    fn value_in(&self, v: &Value, path: &str, loops: &[Loop], lenient: bool) -> R<Value> {
        match v {
            Value::String(s) => match expr::classify(s) {
                Template::Literal(l) => Ok(Value::String(l.into_owned())),
                Template::Expression(text) => match self.expression(text, loops) {
                    Err(Fail::Deferred(reason)) if lenient => {
                        self.engine.out.borrow_mut().deferred.push(Deferred {
                            json_path: path.to_string(),
                            expression: s.clone(),
                            reason,
                        });
                        Ok(Value::String(s.clone()))
                    }
                    Err(Fail::Error(m)) if path.is_empty() => {
                        Err(Fail::Error(format!("'{s}': {m}")))
                    }
                    Err(Fail::Error(m)) => Err(Fail::Error(format!("{path}: '{s}': {m}"))),
                    other => other,
                },
            },
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for (i, x) in a.iter().enumerate() {
                    out.push(self.value_in(x, &format!("{path}[{i}]"), loops, lenient)?);
                }
                Ok(Value::Array(out))
            }
            Value::Object(o) => {
                let mut out = Map::new();
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k.eq_ignore_ascii_case("copy") && x.is_array() {
                        for (i, c) in x.as_array().into_iter().flatten().enumerate() {
                            let cp = format!("{p}[{i}]");
                            let (name, items) = self.property_copy(c, &cp, loops, lenient)?;
                            out.insert(name, Value::Array(items));
                        }
                        continue;
                    }
                    out.insert(k.clone(), self.value_in(x, &p, loops, lenient)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// A property or variable loop `{name, count, input}`: the array of its inputs.
    fn property_copy(
        &self,
        c: &Value,
        path: &str,
        loops: &[Loop],
        lenient: bool,
    ) -> R<(String, Vec<Value>)> {
        let name = get(c, "name")
            .and_then(Value::as_str)
            .ok_or_else(|| Fail::Error(format!("{path}.name: a copy loop needs a name")))?;
        let count = get(c, "count")
            .ok_or_else(|| Fail::Error(format!("{path}.count: a copy loop needs a count")))?;
        let count = self.int_value(count, &format!("{path}.count"), loops)?;
        if !(0..=MAX_COPY).contains(&count) {
            return Err(Fail::Error(format!(
                "{path}.count: {count} is outside 0 to {MAX_COPY}"
            )));
        }
        let input = get(c, "input")
            .ok_or_else(|| Fail::Error(format!("{path}.input: a copy loop needs an input")))?;
        let mut items = Vec::new();
        for i in 0..count {
            let mut l = loops.to_vec();
            l.push(Loop {
                name: Some(name.to_string()),
                index: i,
                resource: false,
                value: None,
            });
            let item = self.value_in(input, &format!("{path}.input"), &l, lenient)?;
            self.engine
                .spend(functions::value_size(&item, MAX_EVALUATED), || {
                    format!("{path}.input")
                })?;
            items.push(item);
        }
        Ok((name.to_string(), items))
    }

    fn expression(&self, text: &str, loops: &[Loop]) -> R<Value> {
        let e = expr::parse(text)?;
        // A parameter passed a value known only at deployment time is passed on as written
        // when it is the whole expression; anything computed from it is deferred too.
        if let Expr::Call(f, args) = &e
            && f.eq_ignore_ascii_case("parameters")
            && self.frames.borrow().is_empty()
            && let [Expr::Str(n)] = args.as_slice()
            && self.deferred_params.contains(&n.to_lowercase())
        {
            return self.param(&n.to_lowercase());
        }
        self.eval(&e, loops)
    }

    fn param(&self, lower: &str) -> R<Value> {
        if let Some(v) = self.param_cache.borrow().get(lower) {
            return Ok(v.clone());
        }
        let (decl, supplied) = self.params.get(lower).ok_or_else(|| {
            let mut known: Vec<&String> = self.params.keys().collect();
            known.sort();
            Fail::Error(format!(
                "the template has no parameter '{lower}' (declared: {known:?})"
            ))
        })?;
        let key = format!("p:{lower}");
        if !self.in_progress.borrow_mut().insert(key.clone()) {
            return Err(Fail::Error(format!(
                "parameter '{lower}' depends on itself"
            )));
        }
        let v = match supplied {
            Some(v) => Ok(v.clone()),
            None => match get(decl, "defaultValue") {
                Some(d) => self.value(d, &format!("parameters.{lower}.defaultValue"), &[]),
                None => Err(Fail::Error(format!(
                    "parameter '{lower}' has no value: no defaultValue, and none in the parameters file or --set"
                ))),
            },
        };
        self.in_progress.borrow_mut().remove(&key);
        let v = v?;
        // A value kept as written is a placeholder, not the value the type is checked on.
        if !self.deferred_params.contains(lower) {
            check_param(lower, decl, &v)?;
        }
        self.param_cache
            .borrow_mut()
            .insert(lower.to_string(), v.clone());
        Ok(v)
    }

    fn variable(&self, lower: &str) -> R<Value> {
        if let Some(v) = self.var_cache.borrow().get(lower) {
            return Ok(v.clone());
        }
        let raw = self.vars.get(lower).ok_or_else(|| {
            let mut known: Vec<&String> = self.vars.keys().collect();
            known.sort();
            Fail::Error(format!(
                "the template has no variable '{lower}' (declared: {known:?})"
            ))
        })?;
        let key = format!("v:{lower}");
        if !self.in_progress.borrow_mut().insert(key.clone()) {
            return Err(Fail::Error(format!("variable '{lower}' depends on itself")));
        }
        let v = match (get(raw, "$copy"), get(raw, "$path").and_then(Value::as_str)) {
            (Some(c), Some(p)) => self
                .property_copy(c, p, &[], false)
                .map(|(_, items)| Value::Array(items)),
            _ => self.value(raw, &format!("variables.{lower}"), &[]),
        };
        self.in_progress.borrow_mut().remove(&key);
        let v = v?;
        self.var_cache
            .borrow_mut()
            .insert(lower.to_string(), v.clone());
        Ok(v)
    }

    fn eval(&self, e: &Expr, loops: &[Loop]) -> R<Value> {
        match e {
            Expr::Str(s) => Ok(Value::String(s.clone())),
            Expr::Int(i) => Ok(Value::from(*i)),
            Expr::Prop(b, name) => {
                if let Some(m) = self.deferred_output(b, name, loops) {
                    return Err(Fail::Deferred(m));
                }
                let v = self.eval(b, loops)?;
                match &v {
                    Value::Object(o) => lookup(o, name)
                        .cloned()
                        .ok_or_else(|| self.missing_property(b, name, o, loops)),
                    other => Err(self.under_reference(
                        b,
                        format!("cannot read property '{name}' of {}", kind(other)),
                    )),
                }
            }
            Expr::Index(b, i) => {
                let v = self.eval(b, loops)?;
                let i = self.eval(i, loops)?;
                match (&v, &i) {
                    (Value::Array(a), Value::Number(n)) => {
                        let n = n.as_i64().unwrap_or(-1);
                        usize::try_from(n)
                            .ok()
                            .and_then(|n| a.get(n))
                            .cloned()
                            .ok_or_else(|| {
                                Fail::Error(format!(
                                    "index {n} is out of range for an array of length {}",
                                    a.len()
                                ))
                            })
                    }
                    (Value::Object(o), Value::String(k)) => lookup(o, k)
                        .cloned()
                        .ok_or_else(|| self.missing_property(b, k, o, loops)),
                    (bv, iv) => Err(self.under_reference(
                        b,
                        format!("cannot index {} with {}", kind(bv), kind(iv)),
                    )),
                }
            }
            Expr::Call(name, args) => {
                let v = self.call(name, args, loops)?;
                let size = functions::check_size(name, &v)?;
                self.engine.spend(size, || format!("{name}()"))?;
                Ok(v)
            }
        }
    }

    /// Why `base.name` has no value when `base` evaluated to the object `o`. What `reference()`
    /// answers of a resource of the template is its declaration plus what the import allocates;
    /// the rest of a deployed resource's state (a public IP's `dnsSettings.fqdn`, a NIC's
    /// `macAddress`, a provider's read-only properties) exists only once Azure has created it, so a
    /// property missing there is deferred like an unanswered `reference()`, not an error. A
    /// nested deployment's outputs are all known: a missing one stays an error.
    fn missing_property(
        &self,
        base: &Expr,
        name: &str,
        o: &Map<String, Value>,
        loops: &[Loop],
    ) -> Fail {
        let mut root = base;
        while let Expr::Prop(b, _) | Expr::Index(b, _) = root {
            root = b;
        }
        match root {
            Expr::Call(f, args)
                if f.eq_ignore_ascii_case("reference") && !self.names_a_deployment(args, loops) =>
            {
                Fail::Deferred(format!(
                    "'{name}' of a reference() is runtime state the template does not declare"
                ))
            }
            _ => Fail::Error(format!(
                "the object has no property '{name}' (it has: {})",
                names(o)
            )),
        }
    }

    /// `reference(d).outputs.x.value` of a nested deployment's output kept as written: why it
    /// is known only at deployment time.
    fn deferred_output(&self, base: &Expr, name: &str, loops: &[Loop]) -> Option<String> {
        if !name.eq_ignore_ascii_case("value") || self.deferred_outputs.borrow().is_empty() {
            return None;
        }
        let Expr::Prop(outputs, out) = base else {
            return None;
        };
        let Expr::Prop(call, key) = outputs.as_ref() else {
            return None;
        };
        let Expr::Call(f, args) = call.as_ref() else {
            return None;
        };
        if !key.eq_ignore_ascii_case("outputs") || !f.eq_ignore_ascii_case("reference") {
            return None;
        }
        let Ok(Value::String(target)) = self.eval(args.first()?, loops) else {
            return None;
        };
        let dep = target.rsplit('/').next().unwrap_or(&target).to_lowercase();
        self.deferred_outputs
            .borrow()
            .contains(&(dep.clone(), out.to_lowercase()))
            .then(|| {
                format!(
                    "output '{out}' of nested deployment '{dep}' is known only at deployment time"
                )
            })
    }

    /// A property read or index that does not fit its value: deferred when the value comes
    /// from a `reference()` (a nested deployment's output kept as written because it is known
    /// only at deployment time, say), an error otherwise.
    fn under_reference(&self, base: &Expr, message: String) -> Fail {
        let mut root = base;
        while let Expr::Prop(b, _) | Expr::Index(b, _) = root {
            root = b;
        }
        match root {
            Expr::Call(f, _) if f.eq_ignore_ascii_case("reference") => Fail::Deferred(format!(
                "{message}: a reference() whose value is known only at deployment time"
            )),
            _ => Fail::Error(message),
        }
    }

    /// Whether the first argument of a `reference(...)` names a nested deployment of this
    /// template (whose outputs are known).
    fn names_a_deployment(&self, args: &[Expr], loops: &[Loop]) -> bool {
        let Some(Ok(Value::String(target))) = args.first().map(|a| self.eval(a, loops)) else {
            return false;
        };
        let name = target.rsplit('/').next().unwrap_or(&target).to_lowercase();
        self.deployments.borrow().contains_key(&name) || self.declared_deployments.contains(&name)
    }

    fn call(&self, name: &str, args: &[Expr], loops: &[Loop]) -> R<Value> {
        let lower = name.to_ascii_lowercase();
        if lower.contains('.') {
            return self.user_call(name, args, loops);
        }
        if let Some(f) = self.frames.borrow().last() {
            // [ARMUDF] Limitations: no reference() or list*(), no variables (Bicep's
            // languageVersion 2.0 functions may read them).
            let banned = match lower.as_str() {
                "reference" => Some("use the reference function"),
                n if n.starts_with("list") => Some("use the list functions"),
                "variables" if !self.language_v2 => Some("access variables"),
                _ => None,
            };
            if let Some(what) = banned {
                return Err(Fail::Error(format!(
                    "{name}(): the user-defined function '{}' calls it, and a user-defined function can't {what}",
                    f.name
                )));
            }
        }
        // Lazy: only the chosen branch is evaluated [ARMLOGIC].
        if lower == "if" {
            if args.len() != 3 {
                return Err(Fail::Error(format!(
                    "if() expects 3 arguments, got {}",
                    args.len()
                )));
            }
            let c = self.eval(&args[0], loops)?;
            let c = c.as_bool().ok_or_else(|| {
                Fail::Error(format!(
                    "if() expects a boolean condition, got {}",
                    kind(&c)
                ))
            })?;
            return self.eval(&args[if c { 1 } else { 2 }], loops);
        }
        if let Some(r) = self.lambda_call(&lower, args, loops) {
            return r;
        }
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(self.eval(a, loops)?);
        }
        match lower.as_str() {
            "parameters" => {
                let n = single_str(&lower, &vals)?;
                // Inside a user-defined function, its own parameters only [ARMUDF].
                if let Some(f) = self.frames.borrow().last() {
                    return f.args.get(&n.to_lowercase()).cloned().ok_or_else(|| {
                        Fail::Error(format!(
                            "parameters('{n}'): the user-defined function '{}' has no parameter '{n}' (its parameters: {:?}); inside a function parameters() reads the function's own parameters only",
                            f.name, f.declared
                        ))
                    });
                }
                if self.deferred_params.contains(&n.to_lowercase()) {
                    return Err(Fail::Deferred(format!(
                        "parameter '{n}' was passed a value known only at deployment time"
                    )));
                }
                self.param(&n.to_lowercase())
            }
            "variables" => {
                let n = single_str(&lower, &vals)?;
                // A variable is the template's, evaluated outside any function call.
                let frames = std::mem::take(&mut *self.frames.borrow_mut());
                let v = self.variable(&n.to_lowercase());
                *self.frames.borrow_mut() = frames;
                v
            }
            "copyindex" => {
                let (loop_name, offset) = match vals.as_slice() {
                    [] => (None, 0),
                    [Value::Number(n)] => (None, n.as_i64().unwrap_or(0)),
                    [Value::String(s)] => (Some(s.as_str()), 0),
                    [Value::String(s), o] => (Some(s.as_str()), as_int("copyIndex", o)?),
                    _ => {
                        return Err(Fail::Error(
                            "copyIndex() expects ([loopName], [offset])".into(),
                        ));
                    }
                };
                let l = match loop_name {
                    Some(n) => loops.iter().rev().find(|l| {
                        l.value.is_none()
                            && l.name.as_deref().is_some_and(|x| x.eq_ignore_ascii_case(n))
                    }),
                    None => loops
                        .iter()
                        .rev()
                        .find(|l| l.resource)
                        .or(loops.iter().rev().find(|l| l.value.is_none())),
                };
                let l = l.ok_or_else(|| {
                    Fail::Error(match loop_name {
                        Some(n) => {
                            format!("copyIndex('{n}') is not inside a copy loop named '{n}'")
                        }
                        None => "copyIndex() is not inside a copy loop".into(),
                    })
                })?;
                let index = l.index.checked_add(offset).ok_or_else(|| {
                    Fail::Error(format!(
                        "copyIndex(): index {} plus offset {offset} overflows a 64-bit integer",
                        l.index
                    ))
                })?;
                Ok(Value::from(index))
            }
            "subscription" => Ok(json!({
                "id": format!("/subscriptions/{}", self.identity.subscription_id),
                "subscriptionId": self.identity.subscription_id,
                "tenantId": self.identity.tenant_id,
                "displayName": "vnetsim subscription",
            })),
            "resourcegroup" => {
                if self.kind != ScopeKind::ResourceGroup {
                    return Err(Fail::Error(
                        "resourceGroup() is only available in a resource group deployment".into(),
                    ));
                }
                Ok(json!({
                    "id": format!("/subscriptions/{}/resourceGroups/{}", self.identity.subscription_id, self.identity.resource_group),
                    "name": self.identity.resource_group,
                    "type": "Microsoft.Resources/resourceGroups",
                    "location": self.identity.location,
                    "properties": {"provisioningState": "Succeeded"},
                    "tags": {},
                }))
            }
            "managementgroup" => Ok(json!({
                "id": self.management_group_id(),
                "name": self.identity.management_group,
                "type": "Microsoft.Management/managementGroups",
                "properties": {"displayName": self.identity.management_group, "tenantId": self.identity.tenant_id},
            })),
            "tenant" => Ok(
                json!({"id": format!("/tenants/{}", self.identity.tenant_id), "tenantId": self.identity.tenant_id}),
            ),
            "deployment" => {
                let name = self
                    .chain
                    .last()
                    .cloned()
                    .unwrap_or_else(|| self.identity.deployment_name.clone());
                let mut props = json!({"mode": "Incremental", "provisioningState": "Accepted", "template": {"contentVersion": "1.0.0.0"}});
                if let Some(u) = &self.template_uri {
                    props["templateLink"] = json!({"uri": u});
                }
                let mut d = json!({"name": name, "properties": props});
                if self.kind != ScopeKind::ResourceGroup {
                    d["location"] = Value::String(self.identity.location.clone());
                }
                Ok(d)
            }
            "environment" => Ok(json!({
                "name": "AzureCloud",
                "gallery": "https://gallery.azure.com/",
                "graph": "https://graph.windows.net/",
                "portal": "https://portal.azure.com",
                "resourceManager": "https://management.azure.com/",
                "authentication": {"loginEndpoint": "https://login.microsoftonline.com/", "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"], "tenant": "common", "identityProvider": "AAD"},
                "suffixes": {"acrLoginServer": ".azurecr.io", "azureFrontDoorEndpointSuffix": "azurefd.net", "azureDatalakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net", "azureDatalakeStoreFileSystem": "azuredatalakestore.net", "keyvaultDns": ".vault.azure.net", "sqlServerHostname": ".database.windows.net", "storage": "core.windows.net"},
            })),
            "resourceid" => self.resource_id(&vals, IdKind::Default),
            "subscriptionresourceid" => self.resource_id(&vals, IdKind::Subscription),
            "tenantresourceid" => self.resource_id(&vals, IdKind::Tenant),
            "extensionresourceid" => {
                if vals.len() < 3 {
                    return Err(Fail::Error(
                        "extensionResourceId() expects (resourceId, type, names...)".into(),
                    ));
                }
                let scope = as_str("extensionResourceId", &vals[0])?
                    .trim_end_matches('/')
                    .to_string();
                let tail = type_and_names("extensionResourceId", &vals[1..])?;
                Ok(Value::String(format!("{scope}/providers/{tail}")))
            }
            "reference" => self.reference(&vals),
            // Both may only be used in a parameter's defaultValue and give a new value at each
            // deployment (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-string#newguid,
            // https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-date#utcnow);
            // a simulated deployment uses fixed stand-ins so that an import is reproducible.
            "newguid" => {
                if !vals.is_empty() {
                    return Err(Fail::Error("newGuid() takes no arguments".into()));
                }
                let n = {
                    let mut c = self.engine.new_guids.borrow_mut();
                    *c += 1;
                    *c
                };
                let g = format!("00000000-0000-4000-8000-{n:012x}");
                self.engine.out.borrow_mut().warnings.push(format!(
                    "newGuid() gives a new GUID at each deployment; {g} stands for it"
                ));
                Ok(Value::String(g))
            }
            "utcnow" => {
                let format = match vals.as_slice() {
                    [] => "yyyyMMddTHHmmssZ",
                    [Value::String(f)] => f.as_str(),
                    _ => return Err(Fail::Error("utcNow() expects ([format])".into())),
                };
                let t = functions::DateTime::STAND_IN.format(format);
                self.engine.out.borrow_mut().warnings.push(format!(
                    "utcNow() gives the deployment's time; {t} (2000-01-01 00:00:00 UTC) stands for it"
                ));
                Ok(Value::String(t))
            }
            n if n.starts_with("list") => Err(Fail::Deferred(format!(
                "{name}() reads secrets or runtime state of a deployed resource"
            ))),
            _ => match functions::call(&lower, vals)? {
                Some(v) => Ok(v),
                None => Err(Fail::Error(format!(
                    "the function '{name}' is not supported by vnetsim's ARM evaluator"
                ))),
            },
        }
    }

    /// A call of a user-defined function `namespace.member(...)` [ARMUDF]: the arguments are
    /// evaluated where the call is, checked against the function's parameter declarations,
    /// and the output value evaluated with `parameters()` reading them.
    fn user_call(&self, name: &str, args: &[Expr], loops: &[Loop]) -> R<Value> {
        if let Some(caller) = self.frames.borrow().last()
            && !self.language_v2
        {
            return Err(Fail::Error(format!(
                "{name}(): the user-defined function '{}' calls it, and a user-defined function can't call other user-defined functions (only templates of languageVersion 2.0, as Bicep writes them, may)",
                caller.name
            )));
        }
        let f = self.functions.get(&name.to_ascii_lowercase()).ok_or_else(|| {
            let mut known: Vec<&str> = self.functions.values().map(|f| f.name.as_str()).collect();
            known.sort_unstable();
            Fail::Error(format!(
                "{name}(): the template declares no user-defined function '{name}' (declared: {known:?})"
            ))
        })?;
        if args.len() != f.params.len() {
            return Err(Fail::Error(format!(
                "{}() expects {} argument(s) ({}), got {}",
                f.name,
                f.params.len(),
                f.params
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                args.len()
            )));
        }
        let mut bound = HashMap::new();
        for ((pname, decl), a) in f.params.iter().zip(args) {
            let v = self.eval(a, loops)?;
            check_param(pname, decl, &v).map_err(|e| match e {
                Fail::Error(m) => Fail::Error(format!("{}(): {m}", f.name)),
                other => other,
            })?;
            bound.insert(pname.to_lowercase(), v);
        }
        if self.frames.borrow().len() >= MAX_CALL_DEPTH {
            return Err(Fail::Error(format!(
                "{}(): user-defined function calls nest deeper than {MAX_CALL_DEPTH} (does it call itself?)",
                f.name
            )));
        }
        self.frames.borrow_mut().push(Frame {
            name: f.name.clone(),
            args: bound,
            declared: f.params.iter().map(|(n, _)| n.clone()).collect(),
        });
        let body = get(&f.output, "value").unwrap_or(&Value::Null);
        // The body sees no copy loop or lambda variable of the caller.
        let v = self.value(body, "", &[]);
        self.frames.borrow_mut().pop();
        let v = v.map_err(|e| match e {
            Fail::Error(m) => Fail::Error(format!("{}() ({}.output.value): {m}", f.name, f.path)),
            other => other,
        })?;
        if let Some(ty) = get(&f.output, "type").and_then(Value::as_str)
            && !v.is_null()
            && !is_of_type(ty, &v)
        {
            return Err(Fail::Error(format!(
                "{}() is declared to return {ty} but its value is {}",
                f.name,
                kind(&v)
            )));
        }
        Ok(v)
    }

    /// The lambda functions (`filter`, `map`, `reduce`, `sort`, `toObject`) and
    /// `lambdaVariables`: the lambda's body is evaluated once per element with its
    /// variables bound
    /// (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-functions-lambda).
    /// `None`: not a lambda function.
    fn lambda_call(&self, lower: &str, args: &[Expr], loops: &[Loop]) -> Option<R<Value>> {
        let arity = match lower {
            "lambdavariables" => {
                return Some((|| {
                    let [Expr::Str(n)] = args else {
                        return Err(Fail::Error(
                            "lambdaVariables() expects a variable name in quotes".into(),
                        ));
                    };
                    loops
                        .iter()
                        .rev()
                        .find(|l| l.value.is_some() && l.name.as_deref() == Some(n.as_str()))
                        .and_then(|l| l.value.clone())
                        .ok_or_else(|| {
                            Fail::Error(format!(
                                "lambdaVariables('{n}') is not inside a lambda declaring '{n}'"
                            ))
                        })
                })());
            }
            "filter" | "map" | "sort" => 2,
            "reduce" => 3,
            "toobject" => 0,
            _ => return None,
        };
        Some((|| {
            let arity_ok = if lower == "toobject" {
                (2..=3).contains(&args.len())
            } else {
                args.len() == arity
            };
            if !arity_ok {
                return Err(Fail::Error(format!(
                    "{lower}() has the wrong number of arguments"
                )));
            }
            let input = self.eval(&args[0], loops)?;
            let Value::Array(items) = input else {
                return Err(Fail::Error(format!(
                    "{lower}() expects an array, got {}",
                    kind(&input)
                )));
            };
            let lambda = |e: &Expr| -> R<(Vec<String>, Expr)> {
                match e {
                    Expr::Call(n, a) if n.eq_ignore_ascii_case("lambda") && a.len() >= 2 => {
                        let mut names = Vec::new();
                        for x in &a[..a.len() - 1] {
                            let Expr::Str(v) = x else {
                                return Err(Fail::Error(
                                    "lambda() variable names must be string literals".into(),
                                ));
                            };
                            names.push(v.clone());
                        }
                        Ok((names, a[a.len() - 1].clone()))
                    }
                    _ => Err(Fail::Error(format!(
                        "{lower}() expects a lambda(...) argument"
                    ))),
                }
            };
            let apply = |(names, body): &(Vec<String>, Expr), vals: Vec<Value>| -> R<Value> {
                let mut l = loops.to_vec();
                for (n, v) in names.iter().zip(vals) {
                    l.push(Loop {
                        name: Some(n.clone()),
                        index: 0,
                        resource: false,
                        value: Some(v),
                    });
                }
                self.eval(body, &l)
            };
            match lower {
                "filter" => {
                    let f = lambda(&args[1])?;
                    let mut out = Vec::new();
                    for (i, x) in items.into_iter().enumerate() {
                        let keep = apply(&f, vec![x.clone(), Value::from(i as i64)])?;
                        match keep {
                            Value::Bool(true) => out.push(x),
                            Value::Bool(false) => {}
                            other => {
                                return Err(Fail::Error(format!(
                                    "filter(): the lambda returned {}, not a boolean",
                                    kind(&other)
                                )));
                            }
                        }
                    }
                    Ok(Value::Array(out))
                }
                "map" => {
                    let f = lambda(&args[1])?;
                    let out = items
                        .into_iter()
                        .enumerate()
                        .map(|(i, x)| apply(&f, vec![x, Value::from(i as i64)]))
                        .collect::<R<Vec<_>>>()?;
                    Ok(Value::Array(out))
                }
                "reduce" => {
                    let mut acc = self.eval(&args[1], loops)?;
                    let f = lambda(&args[2])?;
                    for (i, x) in items.into_iter().enumerate() {
                        acc = apply(&f, vec![acc, x, Value::from(i as i64)])?;
                    }
                    Ok(acc)
                }
                "sort" => {
                    let f = lambda(&args[1])?;
                    // Insertion sort: the lambda says whether its first argument goes first.
                    let mut out: Vec<Value> = Vec::with_capacity(items.len());
                    for x in items {
                        let mut at = out.len();
                        while at > 0 {
                            let before = apply(&f, vec![x.clone(), out[at - 1].clone()])?;
                            if before != Value::Bool(true) {
                                break;
                            }
                            at -= 1;
                        }
                        out.insert(at, x);
                    }
                    Ok(Value::Array(out))
                }
                _ => {
                    let key = lambda(&args[1])?;
                    let value = args.get(2).map(lambda).transpose()?;
                    let mut out = Map::new();
                    for x in items {
                        let k = apply(&key, vec![x.clone()])?;
                        let Value::String(k) = k else {
                            return Err(Fail::Error(format!(
                                "toObject(): a key must be a string, got {}",
                                kind(&k)
                            )));
                        };
                        let v = match &value {
                            Some(v) => apply(v, vec![x])?,
                            None => x,
                        };
                        out.insert(k, v);
                    }
                    Ok(Value::Object(out))
                }
            }
        })())
    }

    fn resource_id(&self, vals: &[Value], k: IdKind) -> R<Value> {
        let fname = match k {
            IdKind::Default => "resourceId",
            IdKind::Subscription => "subscriptionResourceId",
            IdKind::Tenant => "tenantResourceId",
        };
        // The resource type is the first argument containing '/'; what precedes it is
        // [subscriptionId,] [resourceGroupName] (resourceId page, "Return value").
        let strs = vals
            .iter()
            .map(|v| as_str(fname, v))
            .collect::<Result<Vec<_>, _>>()?;
        let t = strs.iter().position(|s| s.contains('/')).ok_or_else(|| {
            Fail::Error(format!(
                "{fname}(): no resource type (namespace/type) among the arguments {strs:?}"
            ))
        })?;
        let tail = type_and_names(fname, &vals[t..])?;
        let sub = &self.identity.subscription_id;
        let id = match (k, t) {
            (IdKind::Tenant, 0) => format!("/providers/{tail}"),
            (IdKind::Subscription, 0) => format!("/subscriptions/{sub}/providers/{tail}"),
            (IdKind::Subscription, 1) => format!("/subscriptions/{}/providers/{tail}", strs[0]),
            (IdKind::Default, 0) => match self.kind {
                ScopeKind::ResourceGroup => format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/{tail}",
                    self.identity.resource_group
                ),
                ScopeKind::Subscription => format!("/subscriptions/{sub}/providers/{tail}"),
                ScopeKind::ManagementGroup => {
                    format!("{}/providers/{tail}", self.management_group_id())
                }
                ScopeKind::Tenant => format!("/providers/{tail}"),
            },
            (IdKind::Default, 1) => format!(
                "/subscriptions/{sub}/resourceGroups/{}/providers/{tail}",
                strs[0]
            ),
            (IdKind::Default, 2) => format!(
                "/subscriptions/{}/resourceGroups/{}/providers/{tail}",
                strs[0], strs[1]
            ),
            _ => {
                return Err(Fail::Error(format!(
                    "{fname}(): too many arguments before the resource type '{}'",
                    strs[t]
                )));
            }
        };
        Ok(Value::String(id))
    }

    fn reference(&self, vals: &[Value]) -> R<Value> {
        if vals.is_empty() || vals.len() > 3 {
            return Err(Fail::Error(
                "reference() expects (resourceNameOrId, [apiVersion], ['Full'])".into(),
            ));
        }
        let target = as_str("reference", &vals[0])?;
        let api = vals.get(1).and_then(Value::as_str);
        let full = vals
            .get(2)
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("full"));
        // A nested deployment of this template: its outputs.
        let dep_name = if target
            .to_ascii_lowercase()
            .contains("/providers/microsoft.resources/deployments/")
        {
            target.rsplit('/').next().unwrap_or(target)
        } else {
            target
        };
        let dep_lower = dep_name.to_lowercase();
        if let Some(outputs) = self.deployments.borrow().get(&dep_lower) {
            let props = json!({"outputs": outputs, "provisioningState": "Succeeded"});
            return Ok(if full {
                json!({"properties": props, "name": dep_name})
            } else {
                props
            });
        }
        if self.declared_deployments.contains(&dep_lower) {
            return Err(Fail::Pending(dep_name.to_string()));
        }
        let id = self
            .engine
            .by_name
            .borrow()
            .get(&target.to_lowercase())
            .cloned();
        if let Some(r) = self.engine.resolver {
            let req = ReferenceRequest {
                target,
                resource_id: id.as_deref(),
                api_version: api,
                full,
            };
            if let Some(v) = r.resolve(&req) {
                return Ok(v);
            }
        }
        Err(Fail::Deferred(format!(
            "reference('{target}') is runtime state of a deployed resource"
        )))
    }

    /// One resource declaration (and, for each copy, its children).
    fn resource(
        &self,
        r: &Value,
        path: &str,
        parent: Option<(&str, &str)>,
        loops: &[Loop],
    ) -> R<()> {
        if !r.is_object() {
            return Err(Fail::Error(format!("{path}: a resource must be an object")));
        }
        if let Some(copy) = get(r, "copy") {
            // [ARMCOPY] copy-resources, "Iteration for a child resource": a copy loop cannot
            // be used on a child declared inside its parent.
            if parent.is_some() {
                return Err(Fail::Error(format!(
                    "{path}.copy: a child resource declared inside its parent cannot have a copy loop; declare it at top level with its full type and name"
                )));
            }
            let count = get(copy, "count")
                .ok_or_else(|| Fail::Error(format!("{path}.copy: a copy loop needs a count")))?;
            let count = self.int_value(count, &format!("{path}.copy.count"), loops)?;
            if !(0..=MAX_COPY).contains(&count) {
                return Err(Fail::Error(format!(
                    "{path}.copy.count: {count} is outside 0 to {MAX_COPY}"
                )));
            }
            let name = get(copy, "name")
                .and_then(Value::as_str)
                .map(str::to_string);
            for i in 0..count {
                let mut l = loops.to_vec();
                l.push(Loop {
                    name: name.clone(),
                    index: i,
                    resource: true,
                    value: None,
                });
                self.one_resource(r, &format!("{path}<copy {i}>"), parent, &l)?;
            }
            return Ok(());
        }
        self.one_resource(r, path, parent, loops)
    }

    fn one_resource(
        &self,
        r: &Value,
        path: &str,
        parent: Option<(&str, &str)>,
        loops: &[Loop],
    ) -> R<()> {
        if let Some(c) = get(r, "condition") {
            let c = self.value(c, &format!("{path}.condition"), loops)?;
            match c {
                Value::Bool(false) => return Ok(()),
                Value::Bool(true) => {}
                other => {
                    return Err(Fail::Error(format!(
                        "{path}.condition: expected a boolean, got {}",
                        kind(&other)
                    )));
                }
            }
        }
        let t = get(r, "type")
            .ok_or_else(|| Fail::Error(format!("{path}.type: a resource needs a type")))?;
        let t = self.value(t, &format!("{path}.type"), loops)?;
        let t = as_str("type", &t)
            .map_err(|_| Fail::Error(format!("{path}.type: must be a string")))?
            .to_string();
        let n = get(r, "name")
            .ok_or_else(|| Fail::Error(format!("{path}.name: a resource needs a name")))?;
        // A name known only at deployment time (a private DNS zone named after an App Service
        // Environment's `dnsSuffix`) cannot be simulated: the resource is left out with a
        // warning, as a deferred property is left as written, rather than failing the import.
        let n = match self.value(n, &format!("{path}.name"), loops) {
            Err(Fail::Deferred(m)) => {
                self.engine.out.borrow_mut().warnings.push(format!(
                    "{path}: its name is known only at deployment time ({m}), left out"
                ));
                return Ok(());
            }
            other => other?,
        };
        let n = as_str("name", &n)
            .map_err(|_| Fail::Error(format!("{path}.name: must be a string")))?
            .to_string();
        let passed_on = self
            .engine
            .out
            .borrow()
            .deferred
            .iter()
            .find(|d| n.contains(&d.expression))
            .map(|d| d.json_path.clone());
        if let Some(at) = passed_on {
            self.engine.out.borrow_mut().warnings.push(format!(
                "{path}: its name is known only at deployment time (the value passed on at {at}), left out"
            ));
            return Ok(());
        }
        // A child declared inside its parent: type and name are relative unless full [ARMCHILD].
        let (full_type, full_name) = match parent {
            // A relative type (`subnets`, or `blobServices/containers` named `default/logs`
            // inside a storage account) starts with a type segment, not a provider namespace
            // (which always has a dot).
            Some((pt, pn)) if !t.split('/').next().unwrap_or("").contains('.') => {
                (format!("{pt}/{t}"), format!("{pn}/{n}"))
            }
            Some((_, pn)) if t.matches('/').count() == n.matches('/').count() + 2 => {
                (t.clone(), format!("{pn}/{n}"))
            }
            _ => (t.clone(), n.clone()),
        };
        // [ARMCHILD] "Child resources can only be defined five levels deep."
        if parent.is_some() && full_type.matches('/').count() > 6 {
            return Err(Fail::Error(format!(
                "{path}: '{full_type}' nests child resources more than five levels deep"
            )));
        }
        if full_type.matches('/').count() != full_name.matches('/').count() + 1 {
            return Err(Fail::Error(format!(
                "{path}: the name '{full_name}' needs one segment per type segment after the namespace of '{full_type}'"
            )));
        }
        if get(r, "existing").and_then(Value::as_bool) == Some(true) {
            self.engine.out.borrow_mut().warnings.push(format!(
                "{path}: '{full_name}' is an existing resource, referenced but not deployed"
            ));
            return Ok(());
        }
        if full_type.eq_ignore_ascii_case("Microsoft.Resources/deployments") {
            return self.deployment(r, path, &full_name, loops);
        }
        let mut decl = Map::new();
        for (k, v) in r.as_object().into_iter().flatten() {
            let skip = [
                "resources",
                "copy",
                "condition",
                "dependsOn",
                "comments",
                "type",
                "name",
            ];
            if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                continue;
            }
            decl.insert(
                k.clone(),
                self.value_in(v, &format!("{path}.{k}"), loops, true)?,
            );
        }
        let tail = type_and_names(
            "resource",
            &[
                Value::String(full_type.clone()),
                Value::String(full_name.clone()),
            ],
        )?;
        let sub = self.target.subscription_id.clone();
        let (id, rg) = match self.target_kind {
            ScopeKind::ResourceGroup => (
                format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/{tail}",
                    self.target.resource_group
                ),
                Some(self.target.resource_group.clone()),
            ),
            ScopeKind::Subscription
                if full_type.eq_ignore_ascii_case("Microsoft.Resources/resourceGroups") =>
            {
                (
                    format!("/subscriptions/{sub}/resourceGroups/{full_name}"),
                    None,
                )
            }
            ScopeKind::Subscription => (format!("/subscriptions/{sub}/providers/{tail}"), None),
            ScopeKind::ManagementGroup => (
                format!(
                    "/providers/Microsoft.Management/managementGroups/{}/providers/{tail}",
                    self.target.management_group
                ),
                None,
            ),
            ScopeKind::Tenant => (format!("/providers/{tail}"), None),
        };
        let str_field = |k: &str| {
            get(&Value::Object(decl.clone()), k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let size = decl.iter().fold(2usize, |acc, (k, v)| {
            acc.saturating_add(k.len() + 4 + functions::value_size(v, MAX_RESOURCE))
        });
        if size > MAX_RESOURCE {
            return Err(Fail::Error(format!(
                "{path}: the resource {full_name} is more than {MAX_RESOURCE} bytes once evaluated, above the 1 MB Azure allows a resource definition"
            )));
        }
        self.engine.spend(size, || path.to_string())?;
        let res = Resource {
            type_: full_type.clone(),
            name: full_name.clone(),
            id: id.clone(),
            api_version: str_field("apiVersion"),
            json_path: path.to_string(),
            location: str_field("location"),
            kind: str_field("kind"),
            sku: lookup(&decl, "sku").cloned(),
            zones: lookup(&decl, "zones")
                .and_then(Value::as_array)
                .map(|z| z.iter().map(to_display).collect())
                .unwrap_or_default(),
            tags: lookup(&decl, "tags").cloned().unwrap_or(Value::Null),
            properties: lookup(&decl, "properties").cloned().unwrap_or(Value::Null),
            subscription_id: sub,
            resource_group: rg,
            deployment: self.chain.clone(),
            declaration: Value::Object(decl),
        };
        tracing::debug!(path, r#type = %full_type, name = %full_name, "evaluated resource");
        {
            let mut by = self.engine.by_name.borrow_mut();
            by.insert(full_name.to_lowercase(), id.clone());
            by.insert(id.to_lowercase(), id);
        }
        self.engine.out.borrow_mut().resources.push(res);
        if let Some(children) = get(r, "resources") {
            let children = children
                .as_array()
                .ok_or_else(|| Fail::Error(format!("{path}.resources: must be an array")))?;
            for (i, c) in children.iter().enumerate() {
                self.resource(
                    c,
                    &format!("{path}.resources[{i}]"),
                    Some((&full_type, &full_name)),
                    loops,
                )?;
            }
        }
        Ok(())
    }

    /// A `Microsoft.Resources/deployments` resource: its template (inline or linked)
    /// evaluated in inner or outer scope; its outputs recorded for `reference()`.
    fn deployment(&self, r: &Value, path: &str, name: &str, loops: &[Loop]) -> R<()> {
        {
            let mut d = self.engine.depth.borrow_mut();
            if *d >= MAX_NESTING {
                return Err(Fail::Error(format!(
                    "{path}: nested deployments deeper than {MAX_NESTING}"
                )));
            }
            *d += 1;
        }
        let result = self.deployment_inner(r, path, name, loops);
        *self.engine.depth.borrow_mut() -= 1;
        result
    }

    fn deployment_inner(&self, r: &Value, path: &str, name: &str, loops: &[Loop]) -> R<()> {
        let props = get(r, "properties").ok_or_else(|| {
            Fail::Error(format!("{path}.properties: a deployment needs properties"))
        })?;
        let mut identity = self.identity.clone();
        let mut kind = self.kind;
        if let Some(s) = get(r, "subscriptionId") {
            identity.subscription_id =
                self.value_str(s, &format!("{path}.subscriptionId"), loops)?;
        }
        if let Some(g) = get(r, "resourceGroup") {
            identity.resource_group = self.value_str(g, &format!("{path}.resourceGroup"), loops)?;
            kind = ScopeKind::ResourceGroup;
        } else if self.kind != ScopeKind::ResourceGroup && get(r, "subscriptionId").is_some() {
            kind = ScopeKind::Subscription;
        }
        let scope_opt = get(props, "expressionEvaluationOptions").and_then(|o| get(o, "scope"));
        let inner = match scope_opt {
            Some(s) => self
                .value_str(
                    s,
                    &format!("{path}.properties.expressionEvaluationOptions.scope"),
                    loops,
                )?
                .eq_ignore_ascii_case("inner"),
            None => false,
        };
        let (template, file, dir, uri, tpath) = if let Some(t) = get(props, "template") {
            (
                t.clone(),
                self.file.clone(),
                self.dir.clone(),
                self.template_uri.clone(),
                format!("{path}.properties.template."),
            )
        } else if let Some(link) = get(props, "templateLink") {
            let link = self.value(link, &format!("{path}.properties.templateLink"), loops)?;
            let (text, file) =
                self.load_linked(&link, &format!("{path}.properties.templateLink"))?;
            let t = crate::json::parse(&text).map_err(|e| {
                Fail::Error(format!(
                    "{path}.properties.templateLink: {}: {e}",
                    file.display()
                ))
            })?;
            let uri = format!("file://{}", file.display());
            let dir = file.parent().map(Path::to_path_buf);
            (
                t,
                file.display().to_string(),
                dir,
                Some(uri),
                format!("{path}<{}>.", file.display()),
            )
        } else {
            return Err(Fail::Error(format!(
                "{path}.properties: a deployment needs a template or a templateLink"
            )));
        };
        let linked = get(props, "templateLink").is_some();
        let deferred_mark = self.engine.out.borrow().deferred.len();
        let mut chain = self.chain.clone();
        chain.push(name.to_string());
        let outputs = if inner || linked {
            let mut supplied = BTreeMap::new();
            let mut deferred_params = HashSet::new();
            if let Some(link) = get(props, "parametersLink") {
                let lpath = format!("{path}.properties.parametersLink");
                let link = self.value(link, &lpath, loops)?;
                let (text, pfile) = self.load_linked(&link, &lpath)?;
                let values = crate::parse_parameters_file(&text, &pfile.display().to_string())
                    .map_err(|e| Fail::Arm(Box::new(e)))?;
                supplied.extend(values);
            }
            if let Some(p) = get(props, "parameters") {
                // A value known only at deployment time (a storage account's endpoint, a SQL
                // server's name as Azure completes it) is passed on as written and listed in
                // `deferred`, as it is in a resource's properties.
                let ppath = format!("{path}.properties.parameters");
                let mark = self.engine.out.borrow().deferred.len();
                let p = self.value_in(p, &ppath, loops, true)?;
                for d in &self.engine.out.borrow().deferred[mark..] {
                    if let Some(rest) = d.json_path.strip_prefix(&format!("{ppath}.")) {
                        let name = rest.split(['.', '[']).next().unwrap_or(rest);
                        deferred_params.insert(name.to_lowercase());
                    }
                }
                for (k, v) in p.as_object().into_iter().flatten() {
                    // A Key Vault secret (`reference: {keyVault: {id}, secretName}`, with an id
                    // built at deployment: https://learn.microsoft.com/azure/azure-resource-manager/templates/key-vault-parameter#reference-secrets-with-dynamic-id)
                    // gets the same placeholder as in a parameters file.
                    let secret = get(v, "reference").map(|r| {
                        let name = get(r, "secretName").and_then(Value::as_str).unwrap_or(k);
                        Value::String(format!("<Key Vault secret {name}>"))
                    });
                    let v = get(v, "value").cloned().or(secret).ok_or_else(|| {
                        Fail::Error(format!(
                            "{path}.properties.parameters.{k}: expected {{\"value\": ...}} or a Key Vault \"reference\""
                        ))
                    })?;
                    supplied.insert(k.clone(), v);
                }
            }
            let mut sub_scope = Scope::new(
                self.engine,
                file,
                &template,
                supplied,
                identity,
                dir,
                uri,
                chain,
            )
            .map_err(|e| match e {
                ArmError::Parameter { name, message } => {
                    Fail::Error(format!("{path}.properties.parameters.{name}: {message}"))
                }
                e => Fail::Arm(Box::new(e)),
            })?;
            sub_scope.deferred_params = deferred_params;
            if get(&template, "$schema").is_none() || kind != ScopeKind::ResourceGroup {
                sub_scope.kind = kind;
                sub_scope.target_kind = kind;
            }
            sub_scope
                .run(&template, &tpath)
                .map_err(|e| Fail::Arm(Box::new(e)))?
        } else {
            // Outer scope (the default): the nested template's expressions are the parent's
            // [ARMNEST] (linked-templates page, "Expression evaluation scope in nested templates").
            // Resources still go to the deployment's resource group or subscription.
            let mut outer = Scope::new(
                self.engine,
                file,
                &json!({}),
                BTreeMap::new(),
                self.identity.clone(),
                dir,
                uri,
                chain,
            )
            .map_err(|e| Fail::Arm(Box::new(e)))?;
            outer.kind = self.kind;
            outer.target = identity;
            outer.target_kind = kind;
            outer.params = self.params.clone();
            outer.vars = self.vars.clone();
            outer.param_cache = RefCell::new(self.param_cache.borrow().clone());
            outer.var_cache = RefCell::new(self.var_cache.borrow().clone());
            outer.declared_deployments = self.declared_deployments.clone();
            outer.functions = self.functions.clone();
            outer.language_v2 = self.language_v2;
            outer
                .declared_deployments
                .extend(declared_deployment_names(&template));
            outer.deployments = RefCell::new(self.deployments.borrow().clone());
            outer.deferred_outputs = RefCell::new(self.deferred_outputs.borrow().clone());
            outer
                .run_resources(&template, &tpath)
                .map_err(|e| Fail::Arm(Box::new(e)))?;
            outer
                .outputs(&template, &tpath)
                .map_err(|e| Fail::Arm(Box::new(e)))?
        };
        let outputs: Map<String, Value> = outputs
            .into_iter()
            .map(|(k, v)| (k, json!({"type": "Object", "value": v})))
            .collect();
        self.deployments
            .borrow_mut()
            .insert(name.to_lowercase(), Value::Object(outputs));
        // Outputs kept as written stay known only at deployment time for whoever reads them.
        let outputs_path = format!("{tpath}outputs.");
        for d in &self.engine.out.borrow().deferred[deferred_mark..] {
            if let Some(rest) = d.json_path.strip_prefix(&outputs_path) {
                let out = rest.split(['.', '[']).next().unwrap_or(rest);
                self.deferred_outputs
                    .borrow_mut()
                    .insert((name.to_lowercase(), out.to_lowercase()));
            }
        }
        Ok(())
    }

    fn value_str(&self, v: &Value, path: &str, loops: &[Loop]) -> R<String> {
        let x = self.value(v, path, loops)?;
        x.as_str()
            .map(str::to_string)
            .ok_or_else(|| Fail::Error(format!("{path}: expected a string, got {}", kind(&x))))
    }

    /// Finds a linked template's file: `relativePath` against this template's directory, or
    /// a `uri`'s path, trying its last segments under the directory (so a raw GitHub URL of
    /// a sample finds the sample's copy beside the main template). A template evaluated
    /// without a directory (given as text) reads no file: its links are an error.
    fn load_linked(&self, link: &Value, path: &str) -> R<(String, PathBuf)> {
        let no_dir = || {
            Fail::Error(format!(
                "{path}: a linked template is read beside the template file, and this template was given without a directory"
            ))
        };
        let mut candidates = Vec::new();
        if let Some(rel) = get(link, "relativePath").and_then(Value::as_str) {
            candidates.push(self.dir.as_ref().ok_or_else(no_dir)?.join(rel));
        } else if let Some(uri) = get(link, "uri").and_then(Value::as_str) {
            let clean = uri.split(['?', '#']).next().unwrap_or(uri);
            let dir = self.dir.as_ref().ok_or_else(no_dir)?;
            if let Some(local) = clean.strip_prefix("file://") {
                candidates.push(PathBuf::from(local));
            }
            let segs: Vec<&str> = clean
                .split("://")
                .last()
                .unwrap_or(clean)
                .split('/')
                .filter(|s| !s.is_empty())
                .collect();
            for i in 0..segs.len() {
                candidates.push(dir.join(segs[i..].join("/")));
            }
        } else if let Some(id) = get(link, "id").and_then(Value::as_str) {
            // A template spec (https://learn.microsoft.com/azure/azure-resource-manager/templates/template-specs)
            // is a template stored in Azure.
            return Err(Fail::Error(format!(
                "{path}: the linked template is the template spec '{id}', stored in Azure, which cannot be read here; deploy its template file with a relativePath or a uri instead"
            )));
        } else {
            return Err(Fail::Error(format!(
                "{path}: a templateLink needs a relativePath or a uri"
            )));
        }
        for c in &candidates {
            match crate::read_file(c) {
                Ok(text) => return Ok((text, c.clone())),
                // Found but too big (or not text): said, not passed over for another candidate.
                Err(e) if c.exists() && !c.is_dir() => {
                    return Err(Fail::Error(format!("{path}: {e}")));
                }
                Err(_) => {}
            }
        }
        Err(Fail::Error(format!(
            "{path}: linked template not found (tried {})",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

#[derive(Clone, Copy)]
enum IdKind {
    Default,
    Subscription,
    Tenant,
}

fn single_str(name: &str, vals: &[Value]) -> R<String> {
    match vals {
        [v] => Ok(as_str(name, v)?.to_string()),
        _ => Err(Fail::Error(format!(
            "{name}() expects 1 argument, got {}",
            vals.len()
        ))),
    }
}

/// `Namespace/t1/t2` and names `n1`, `n2` (or `n1/n2`) into `Namespace/t1/n1/t2/n2`.
fn type_and_names(fname: &str, vals: &[Value]) -> Result<String, String> {
    // ARM accepts a trailing '/' on the type ('Microsoft.Network/publicIPAddresses/').
    let t = as_str(fname, &vals[0])?.trim_end_matches('/');
    let mut segs = t.split('/');
    let ns = segs.next().unwrap_or_default();
    let types: Vec<&str> = segs.collect();
    let mut names: Vec<&str> = Vec::new();
    for v in &vals[1..] {
        names.extend(as_str(fname, v)?.split('/'));
    }
    if types.is_empty() || types.len() != names.len() {
        return Err(format!(
            "{fname}(): the type '{t}' needs {} name segment(s), got {} ({names:?})",
            types.len(),
            names.len()
        ));
    }
    let mut out = ns.to_string();
    for (t, n) in types.iter().zip(&names) {
        out.push('/');
        out.push_str(t);
        out.push('/');
        out.push_str(n);
    }
    Ok(out)
}

fn check_param(name: &str, decl: &Value, v: &Value) -> R<()> {
    if let Some(allowed) = get(decl, "allowedValues").and_then(Value::as_array) {
        // An array may be any subset of the allowed values, or be one of them whole: the
        // quickstart oms-azure-storage-analytics-solution lists arrays (`["free", "free"]`) as
        // the allowed values of an array parameter, and deploys.
        let ok = allowed.contains(v)
            || matches!(v, Value::Array(items) if items.iter().all(|i| allowed.contains(i)));
        if !ok {
            return Err(Fail::Error(format!(
                "parameter '{name}': {v} is not one of the allowedValues {}",
                Value::Array(allowed.clone())
            )));
        }
    }
    let ty = get(decl, "type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    if !is_of_type(&ty, v) && !v.is_null() {
        return Err(Fail::Error(format!(
            "parameter '{name}' is declared {ty} but its value is {}",
            kind(v)
        )));
    }
    let bound = |k: &str| get(decl, k).and_then(Value::as_i64);
    if let Some(i) = v.as_i64()
        && (bound("minValue").is_some_and(|m| i < m) || bound("maxValue").is_some_and(|m| i > m))
    {
        return Err(Fail::Error(format!(
            "parameter '{name}': {i} is outside minValue/maxValue"
        )));
    }
    let len = match v {
        Value::String(s) => Some(s.encode_utf16().count() as i64),
        Value::Array(a) => Some(a.len() as i64),
        _ => None,
    };
    if let Some(l) = len
        && (bound("minLength").is_some_and(|m| l < m) || bound("maxLength").is_some_and(|m| l > m))
    {
        return Err(Fail::Error(format!(
            "parameter '{name}': length {l} is outside minLength/maxLength"
        )));
    }
    Ok(())
}

/// Whether `v` is of the declared parameter or output type (any type when unknown).
fn is_of_type(ty: &str, v: &Value) -> bool {
    match ty.to_ascii_lowercase().as_str() {
        "string" | "securestring" => v.is_string(),
        "int" => v.is_i64(),
        "bool" => v.is_boolean(),
        "array" => v.is_array(),
        "object" | "secureobject" => v.is_object(),
        _ => true,
    }
}

/// Reads a template's `functions` section [ARMUDF]: namespaces of members, each with
/// parameters (a name each, no default value) and an output value. The error names the
/// JSON path of the declaration at fault.
fn user_functions(template: &Value) -> Result<HashMap<String, UserFunction>, (String, String)> {
    let mut out: HashMap<String, UserFunction> = HashMap::new();
    let Some(list) = get(template, "functions") else {
        return Ok(out);
    };
    let list = list.as_array().ok_or_else(|| {
        (
            "functions".to_string(),
            "must be an array of {\"namespace\", \"members\"}".to_string(),
        )
    })?;
    for (i, ns) in list.iter().enumerate() {
        let at = format!("functions[{i}]");
        let namespace = get(ns, "namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                (
                    format!("{at}.namespace"),
                    "a function namespace needs a name".to_string(),
                )
            })?;
        let members = get(ns, "members")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                (
                    format!("{at}.members"),
                    "must be an object of functions by name".to_string(),
                )
            })?;
        for (member, decl) in members {
            let fpath = format!("{at}.members.{member}");
            let name = format!("{namespace}.{member}");
            let mut params = Vec::new();
            if let Some(ps) = get(decl, "parameters") {
                let ps = ps.as_array().ok_or_else(|| {
                    (
                        format!("{fpath}.parameters"),
                        "must be an array of {\"name\", \"type\"}".to_string(),
                    )
                })?;
                for (j, p) in ps.iter().enumerate() {
                    let ppath = format!("{fpath}.parameters[{j}]");
                    let pname = get(p, "name")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| {
                            (format!("{ppath}.name"), "a parameter needs a name".into())
                        })?;
                    if get(p, "defaultValue").is_some() {
                        return Err((
                            format!("{ppath}.defaultValue"),
                            format!(
                                "parameter '{pname}' of user-defined function '{name}': a parameter of a user-defined function can't have a default value"
                            ),
                        ));
                    }
                    if params
                        .iter()
                        .any(|(n, _): &(String, Value)| n.eq_ignore_ascii_case(pname))
                    {
                        return Err((
                            format!("{ppath}.name"),
                            format!(
                                "user-defined function '{name}' declares parameter '{pname}' twice"
                            ),
                        ));
                    }
                    params.push((pname.to_string(), p.clone()));
                }
            }
            let output = get(decl, "output")
                .filter(|o| get(o, "value").is_some())
                .ok_or_else(|| {
                    (
                        format!("{fpath}.output"),
                        format!("user-defined function '{name}' needs an output with a value"),
                    )
                })?;
            let key = name.to_ascii_lowercase();
            if let Some(first) = out.get(&key) {
                return Err((
                    fpath,
                    format!(
                        "user-defined function '{name}' is declared twice (first at {})",
                        first.path
                    ),
                ));
            }
            out.insert(
                key,
                UserFunction {
                    name,
                    path: fpath,
                    params,
                    output: output.clone(),
                },
            );
        }
    }
    Ok(out)
}

/// The lower-case names of the nested deployments a template declares (children included).
fn declared_deployment_names(template: &Value) -> HashSet<String> {
    let mut names = HashSet::new();
    for_each_resource_decl(template, &mut |r| {
        let is_deployment = get(r, "type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Resources/deployments"));
        if let (true, Some(n)) = (is_deployment, get(r, "name").and_then(Value::as_str)) {
            names.insert(n.to_lowercase());
        }
    });
    names
}

/// Calls `f` on every resource declaration of a template (nested children included), so the
/// names of nested deployments are known before evaluation.
fn for_each_resource_decl(template: &Value, f: &mut dyn FnMut(&Value)) {
    fn walk(list: Option<&Value>, f: &mut dyn FnMut(&Value)) {
        let items: Vec<&Value> = match list {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(Value::Object(o)) => o.values().collect(),
            _ => return,
        };
        for r in items {
            f(r);
            walk(get(r, "resources"), f);
        }
    }
    walk(get(template, "resources"), f);
}

/// Evaluates a single expression string (with or without brackets) against an empty
/// template: for tests and for callers checking a function.
pub fn evaluate_expression(text: &str, identity: &Identity) -> Result<Value, String> {
    let engine = Engine {
        resolver: None,
        out: RefCell::default(),
        by_name: RefCell::default(),
        depth: RefCell::new(0),
        new_guids: RefCell::new(0),
        evaluated: Cell::new(0),
    };
    let scope = Scope::new(
        &engine,
        "expression".into(),
        &json!({}),
        BTreeMap::new(),
        identity.clone(),
        None,
        None,
        Vec::new(),
    )
    .map_err(|e| e.to_string())?;
    let s = Value::String(if text.starts_with('[') {
        text.to_string()
    } else {
        format!("[{text}]")
    });
    scope.value(&s, "", &[]).map_err(|f| match f {
        Fail::Error(m) | Fail::Deferred(m) | Fail::Pending(m) => m,
        Fail::Arm(e) => e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: Value) -> Result<EvaluatedTemplate, ArmError> {
        evaluate(&t, &EvalOptions::default())
    }

    fn output(t: Value, name: &str) -> Value {
        let out = run(t).unwrap_or_else(|e| panic!("{e}"));
        out.outputs[name].clone()
    }

    /// Variables each twice the last (by a function or by a literal array) end at the 4 MB a
    /// value may have, not in exhausted memory.
    #[test]
    fn doubling_variables_end_at_the_value_limit() {
        for step in [
            json!("[createArray(variables('v{}'), variables('v{}'))]"),
            json!(["[variables('v{}')]", "[variables('v{}')]"]),
        ] {
            let mut vars = serde_json::Map::new();
            vars.insert("v0".into(), json!(["x"]));
            for i in 1..=40 {
                let text = step.to_string().replace("{}", &(i - 1).to_string());
                vars.insert(format!("v{i}"), serde_json::from_str(&text).unwrap());
            }
            let e = run(json!({"variables": vars,
                "outputs": {"o": {"type": "array", "value": "[variables('v40')]"}}}))
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("produced a value of more than 4194304 bytes"),
                "{e}"
            );
        }
    }

    /// 800 copies of a resource with 800 property copies of an 800-element array (512 million
    /// numbers): each resource is above Azure's 1 MB, and the error says so at the first.
    #[test]
    fn a_resource_over_1_mb_once_evaluated_is_refused() {
        let e = run(json!({"resources": [{
            "type": "Microsoft.Network/virtualNetworks", "name": "[concat('v', copyIndex())]",
            "copy": {"name": "c", "count": 800},
            "properties": {"copy": [{"name": "subnets", "count": 800,
                "input": {"name": "[concat('s', copyIndex('subnets'))]", "x": "[range(0, 800)]"}}]}}]}))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("<copy 0>") && e.contains("the resource v0 is more than 1048576 bytes"),
            "{e}"
        );
    }

    /// 800 nested deployments of 800 resources each, every resource within 1 MB: the whole
    /// evaluation stops at its budget.
    #[test]
    fn nested_loops_stop_at_the_evaluation_budget() {
        let pad = "y".repeat(1000);
        let inner = json!({"resources": [{
            "type": "Microsoft.Network/routeTables", "name": "[concat('rt', copyIndex())]",
            "copy": {"name": "c", "count": 800}, "properties": {"pad": pad}}]});
        let e = run(json!({"resources": [{
            "type": "Microsoft.Resources/deployments", "name": "[concat('d', copyIndex())]",
            "copy": {"name": "d", "count": 800}, "properties": {"template": inner}}]}))
        .unwrap_err()
        .to_string();
        assert!(e.contains("more than 67108864 bytes of values"), "{e}");
        // Within the budget, the same shape evaluates.
        let small = json!({"resources": [{
            "type": "Microsoft.Resources/deployments", "name": "[concat('d', copyIndex())]",
            "copy": {"name": "d", "count": 3}, "properties": {"template": {"resources": [{
                "type": "Microsoft.Network/routeTables", "name": "[concat('rt', copyIndex())]",
                "copy": {"name": "c", "count": 800}, "properties": {}}]}}}]});
        assert_eq!(run(small).unwrap().resources.len(), 3 * 800);
    }

    /// An offset that takes the index past 64 bits is an error naming copyIndex(); it once
    /// wrapped on addition.
    #[test]
    fn copy_index_offsets_that_overflow_are_errors() {
        for x in [
            "[copyIndex(9223372036854775807)]",
            "[copyIndex('c', 9223372036854775807)]",
        ] {
            let e = run(
                json!({"resources": [{"type": "Microsoft.Network/routeTables",
                "name": "[concat('r', copyIndex())]", "copy": {"name": "c", "count": 2},
                "properties": {"x": x}}]}),
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("copyIndex(): index 1 plus offset 9223372036854775807 overflows"),
                "{e}"
            );
        }
        let ok = run(json!({"resources": [{"type": "Microsoft.Network/routeTables",
            "name": "[concat('r', copyIndex(-9223372036854775807))]", "copy": {"name": "c", "count": 1}}]}))
        .unwrap();
        assert_eq!(ok.resources[0].name, "r-9223372036854775807");
    }

    fn contoso(value: &str) -> Value {
        json!([{"namespace": "contoso", "members": {"f": {
            "parameters": [{"name": "x", "type": "string"}],
            "output": {"type": "string", "value": value}}}}])
    }

    /// [ARMUDF] The page's example: `contoso.uniqueName(prefix)`, namespace and member
    /// matched case-insensitively, `parameters()` reading the function's own parameter.
    #[test]
    fn armudf_the_documented_unique_name_function() {
        let t = json!({
            "parameters": {"storageNamePrefix": {"type": "string", "defaultValue": "StoreX"}},
            "functions": [{"namespace": "contoso", "members": {"uniqueName": {
                "parameters": [{"name": "namePrefix", "type": "string"}],
                "output": {"type": "string",
                    "value": "[concat(toLower(parameters('namePrefix')), uniqueString(resourceGroup().id))]"}}}}],
            "outputs": {
                "a": {"type": "string", "value": "[contoso.uniqueName(parameters('storageNamePrefix'))]"},
                "b": {"type": "string", "value": "[CONTOSO.UNIQUENAME('StoreX')]"},
                "c": {"type": "string", "value": "[concat('storex', uniqueString(resourceGroup().id))]"}
            }
        });
        let out = run(t).unwrap();
        assert!(out.outputs["a"].as_str().unwrap().starts_with("storex"));
        assert_eq!(out.outputs["a"], out.outputs["b"]);
        assert_eq!(out.outputs["a"], out.outputs["c"]);
    }

    /// [ARMUDF] An output value may be an object or array holding expressions; arguments are
    /// evaluated where the call is (a copy loop's index), the body sees none of the caller's
    /// loops.
    #[test]
    fn armudf_object_outputs_and_arguments_from_a_copy_loop() {
        let t = json!({
            "functions": [{"namespace": "net", "members": {"subnet": {
                "parameters": [{"name": "i", "type": "int"}],
                "output": {"type": "object", "value": {
                    "name": "[format('s{0}', parameters('i'))]",
                    "properties": {"addressPrefix": "[format('10.0.{0}.0/24', parameters('i'))]"}}}}}}],
            "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "v",
                "properties": {"copy": [{"name": "subnets", "count": 2,
                    "input": "[net.subnet(copyIndex('subnets'))]"}]}}]
        });
        let out = run(t).unwrap();
        let subnets = &out.resources[0].properties["subnets"];
        assert_eq!(subnets[1]["name"], "s1");
        assert_eq!(subnets[1]["properties"]["addressPrefix"], "10.0.1.0/24");
    }

    /// [ARMUDF] Limitations: only the function's own parameters, no variables, no other
    /// user-defined function, no reference() or list*(), no parameter default values.
    #[test]
    fn armudf_limitations_are_clear_errors() {
        let with = |value: &str| {
            json!({
                "parameters": {"p": {"type": "string", "defaultValue": "v"}},
                "variables": {"v": "x"},
                "functions": [{"namespace": "contoso", "members": {
                    "f": {"parameters": [{"name": "x", "type": "string"}],
                          "output": {"type": "string", "value": value}},
                    "g": {"parameters": [], "output": {"type": "string", "value": "g"}}}}],
                "outputs": {"o": {"type": "string", "value": "[contoso.f('a')]"}}
            })
        };
        let e = run(with("[parameters('p')]")).unwrap_err().to_string();
        assert!(e.contains("has no parameter 'p'"), "{e}");
        assert!(e.contains("contoso.f()"), "{e}");
        assert!(e.contains("outputs.o"), "{e}");
        let e = run(with("[variables('v')]")).unwrap_err().to_string();
        assert!(e.contains("can't access variables"), "{e}");
        let e = run(with("[contoso.g()]")).unwrap_err().to_string();
        assert!(e.contains("can't call other user-defined functions"), "{e}");
        let e = run(with("[reference('x').a]")).unwrap_err().to_string();
        assert!(e.contains("can't use the reference function"), "{e}");
        let e = run(with("[listKeys('x', '2020-01-01').a]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("can't use the list functions"), "{e}");
        assert_eq!(output(with("[parameters('X')]"), "o"), "a");
        // Only the branch `if` takes is evaluated [ARMLOGIC], inside a function too.
        assert_eq!(
            output(with("[if(true(), parameters('x'), parameters('p'))]"), "o"),
            "a"
        );

        let mut t = with("[parameters('x')]");
        t["functions"][0]["members"]["f"]["parameters"][0]["defaultValue"] = json!("d");
        let e = run(t).unwrap_err().to_string();
        assert!(
            e.contains("functions[0].members.f.parameters[0].defaultValue"),
            "{e}"
        );
        assert!(e.contains("can't have a default value"), "{e}");
    }

    /// [ARMUDF] Calls are checked against the declaration: number and types of arguments, the
    /// output's type; an unknown function names those declared.
    #[test]
    fn armudf_arguments_and_output_are_checked() {
        let t = |call: &str, value: &str| json!({"functions": contoso(value), "outputs": {"o": {"type": "string", "value": call}}});
        let e = run(t("[contoso.f()]", "[parameters('x')]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expects 1 argument(s) (x), got 0"), "{e}");
        let e = run(t("[contoso.f(1)]", "[parameters('x')]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("declared string but its value is an integer"),
            "{e}"
        );
        let e = run(t("[contoso.f('a')]", "[length(parameters('x'))]"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("declared to return string but its value is an integer"),
            "{e}"
        );
        let e = run(t("[fabrikam.f('a')]", "[parameters('x')]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no user-defined function 'fabrikam.f'"), "{e}");
        assert!(e.contains("contoso.f"), "{e}");
    }

    /// [ARMUDF] A malformed `functions` section is an error naming its JSON path.
    #[test]
    fn armudf_malformed_declarations_name_their_path() {
        let cases = [
            (json!({"namespace": "a"}), "functions[0].members"),
            (json!({"members": {}}), "functions[0].namespace"),
            (
                json!({"namespace": "a", "members": {"f": {"parameters": [{"type": "string"}], "output": {"value": 1}}}}),
                "functions[0].members.f.parameters[0].name",
            ),
            (
                json!({"namespace": "a", "members": {"f": {"output": {"type": "string"}}}}),
                "functions[0].members.f.output",
            ),
        ];
        for (decl, path) in cases {
            let e = run(json!({"functions": [decl]})).unwrap_err().to_string();
            assert!(e.contains(path), "{path}: {e}");
        }
        let e = run(json!({"functions": [
            {"namespace": "a", "members": {"f": {"output": {"value": 1}}}},
            {"namespace": "A", "members": {"F": {"output": {"value": 2}}}}]}))
        .unwrap_err()
        .to_string();
        assert!(e.contains("declared twice"), "{e}");
        assert!(run(json!({"functions": {}})).is_err());
        // Real quickstart templates carry an empty section.
        assert!(run(json!({"functions": []})).is_ok());
    }

    /// Bicep writes its `func`s to the namespace `__bicep` of a languageVersion 2.0 template,
    /// where a function may call another and read the template's variables (Azure/bicep's
    /// baselines, `__bicep.barTest()` inside `fooTest`).
    #[test]
    fn armudf_bicep_language_version_2_functions_call_each_other_and_read_variables() {
        let t = json!({
            "languageVersion": "2.0",
            "variables": {"greeting": "[format('Hello {0}', parameters('who'))]"},
            "parameters": {"who": {"type": "string", "defaultValue": "world"}},
            "functions": [{"namespace": "__bicep", "members": {
                "barTest": {"parameters": [], "output": {"type": "array", "value": ["abc", "def"]}},
                "fooTest": {"parameters": [], "output": {"type": "array",
                    "value": "[map(__bicep.barTest(), lambda('a', format('Hello {0}!', lambdaVariables('a'))))]"}},
                "greet": {"parameters": [{"name": "who", "type": "string"}],
                    "output": {"type": "string", "value": "[format('{0}, {1}', variables('greeting'), parameters('who'))]"}},
                "loop": {"parameters": [], "output": {"value": "[__bicep.loop()]"}}
            }}],
            "resources": {},
            "outputs": {
                "foo": {"type": "array", "value": "[__bicep.fooTest()]"},
                "hi": {"type": "string", "value": "[__bicep.greet('you')]"}
            }
        });
        let out = run(t.clone()).unwrap();
        assert_eq!(out.outputs["foo"], json!(["Hello abc!", "Hello def!"]));
        assert_eq!(out.outputs["hi"], json!("Hello world, you"));
        let mut t = t;
        t["outputs"]["loop"] = json!({"value": "[__bicep.loop()]"});
        let e = run(t).unwrap_err().to_string();
        assert!(e.contains("nest deeper than"), "{e}");
    }

    /// [ARMUDF] [ARMNEST] A nested template in inner scope has its own functions; in outer
    /// scope it uses its parent's.
    #[test]
    fn armudf_nested_templates_inner_own_functions_outer_the_parents() {
        let t = json!({
            "functions": contoso("[concat('parent-', parameters('x'))]"),
            "resources": [
                {"type": "Microsoft.Resources/deployments", "name": "inner",
                 "properties": {"expressionEvaluationOptions": {"scope": "inner"},
                    "template": {
                        "functions": contoso("[concat('inner-', parameters('x'))]"),
                        "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "[contoso.f('a')]"}]}}},
                {"type": "Microsoft.Resources/deployments", "name": "outer",
                 "properties": {"template": {
                        "resources": [{"type": "Microsoft.Network/virtualNetworks", "name": "[contoso.f('b')]"}]}}}
            ]
        });
        let out = run(t).unwrap();
        let names: Vec<&str> = out.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["inner-a", "parent-b"]);
    }
}
