//! The Azure Resource Manager (ARM) template language for vnetsim.
//!
//! What it is for: turning an ARM template (JSON as ARM accepts it, with comments and
//! trailing commas), a parameters file and `--set` overrides into an [`EvaluatedTemplate`]:
//! the resources a deployment would create, with full types and names (`vnet/subnet`),
//! resource ids and every expression evaluated, plus outputs and warnings. It implements the
//! expression language and the template functions a network template uses, copy loops,
//! conditions, child resources, user-defined functions and nested or linked deployments (see
//! [`eval`]).
//!
//! What it is not: a deployment engine or a scenario importer. It knows nothing of vnetsim's
//! scenario model (mapping resources to a scenario is a later slice, in another crate), does
//! not order resources by `dependsOn`, and leaves `reference()` to runtime state as a
//! [`Deferred`] value unless a [`ReferenceResolver`] supplies it.
//!
//! Entry points: [`evaluate_file`], [`evaluate_text`], [`evaluate`], [`parse_parameters_file`],
//! [`json::parse`], [`eval::evaluate_expression`].

pub mod eval;
pub mod expr;
pub mod functions;
pub mod hash;
pub mod json;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub use eval::{EvalOptions, Identity, ReferenceRequest, ReferenceResolver, evaluate};
pub use json::JsonError;

/// Why a template could not be evaluated. Every variant names the file; template errors
/// also name the JSON path (`resources[3].properties.subnets[0].name`) and the expression.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// The file is not JSON as ARM accepts it.
    #[error("{file}:{}:{}: {}", .source.line, .source.column, .source.message)]
    Json {
        /// The file.
        file: String,
        /// Line, column and message.
        source: JsonError,
    },
    /// The file could not be read.
    #[error("{file}: {message}")]
    Io {
        /// The file.
        file: String,
        /// The operating system's message.
        message: String,
    },
    /// A parameter value is missing, undeclared or of the wrong type.
    #[error("parameter '{name}': {message}")]
    Parameter {
        /// The parameter as named by the caller.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// An expression or declaration in the template is wrong or unsupported.
    #[error("{file}{}: {path}: {message}", position.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Template {
        /// The template file (or `template` when evaluated from a value).
        file: String,
        /// Line and column of the value at `path`, when the file could be read back
        /// ([`evaluate_file`] fills it in).
        position: Option<(usize, usize)>,
        /// The JSON path of the value that failed.
        path: String,
        /// What failed, naming the expression.
        message: String,
    },
}

/// One resource a deployment of the template would create.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Full type, e.g. `Microsoft.Network/virtualNetworks/subnets`.
    pub type_: String,
    /// Full name, e.g. `hub/AzureFirewallSubnet`.
    pub name: String,
    /// Resource id, as `resourceId()` would give it.
    pub id: String,
    /// `apiVersion`.
    pub api_version: Option<String>,
    /// Where it was declared (`resources[2]<copy 1>.resources[0]`; nested templates
    /// continue the path of their deployment).
    pub json_path: String,
    /// `location`.
    pub location: Option<String>,
    /// `kind`.
    pub kind: Option<String>,
    /// `sku`.
    pub sku: Option<Value>,
    /// `zones`.
    pub zones: Vec<String>,
    /// `tags` (null when absent).
    pub tags: Value,
    /// `properties`, fully evaluated (property copy loops expanded). Null when absent.
    pub properties: Value,
    /// The subscription it is deployed to.
    pub subscription_id: String,
    /// The resource group, for resource-group scope resources.
    pub resource_group: Option<String>,
    /// Names of the nested deployments that created it, outermost first.
    pub deployment: Vec<String>,
    /// The whole evaluated declaration (every field but `type`, `name`, `copy`,
    /// `condition`, `dependsOn`, `resources`, `comments`).
    pub declaration: Value,
}

/// A value that depends on deployment-time state (`reference()` of a resource, `list*()`),
/// kept as its expression text at `json_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// Where the value is (`resources[4].properties.ipConfigurations[0]...`).
    pub json_path: String,
    /// The expression as written.
    pub expression: String,
    /// Why it could not be evaluated now.
    pub reason: String,
}

/// The result of evaluating a template.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluatedTemplate {
    /// Deployed resources, in file order, nested deployments' resources in place.
    pub resources: Vec<Resource>,
    /// Output values by name.
    pub outputs: BTreeMap<String, Value>,
    /// Things evaluated but worth knowing (existing resources skipped, Key Vault
    /// parameter references).
    pub warnings: Vec<String>,
    /// Values left for the caller to resolve.
    pub deferred: Vec<Deferred>,
}

impl EvaluatedTemplate {
    /// The resources of a type (case-insensitive), in order.
    pub fn of_type<'a>(&'a self, type_: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.type_.eq_ignore_ascii_case(type_))
    }

    /// The resource of that type and full name (case-insensitive), if deployed.
    pub fn find(&self, type_: &str, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.type_.eq_ignore_ascii_case(type_) && r.name.eq_ignore_ascii_case(name))
    }
}

/// Reads a parameters file (`{"parameters": {"x": {"value": ...}}}`) into values by name.
/// A Key Vault `reference` parameter (a secret, never needed to simulate a network) gets
/// the placeholder string `<Key Vault secret NAME>`.
pub fn parse_parameters_file(text: &str, file: &str) -> Result<BTreeMap<String, Value>, ArmError> {
    let v = json::parse(text).map_err(|source| ArmError::Json {
        file: file.into(),
        source,
    })?;
    let err = |path: &str, message: &str| ArmError::Template {
        file: file.into(),
        position: json::locate(text, path),
        path: path.into(),
        message: message.into(),
    };
    let params = v.get("parameters").ok_or_else(|| {
        err(
            "parameters",
            "a parameters file needs a \"parameters\" object",
        )
    })?;
    let params = params
        .as_object()
        .ok_or_else(|| err("parameters", "must be an object"))?;
    let mut out = BTreeMap::new();
    for (k, p) in params {
        match p.get("value") {
            Some(v) => {
                out.insert(k.clone(), v.clone());
            }
            None if p.get("reference").is_some() => {
                let secret = p
                    .pointer("/reference/secretName")
                    .and_then(Value::as_str)
                    .unwrap_or(k);
                out.insert(
                    k.clone(),
                    Value::String(format!("<Key Vault secret {secret}>")),
                );
            }
            None => {
                return Err(err(
                    &format!("parameters.{k}"),
                    "expected {\"value\": ...} or a Key Vault \"reference\"",
                ));
            }
        }
    }
    Ok(out)
}

/// Parses `--set name=value` arguments into the overrides map of [`EvalOptions`]; the text
/// after the first `=` is the value (converted to the parameter's type at evaluation).
pub fn parse_set<S: AsRef<str>>(items: &[S]) -> Result<BTreeMap<String, String>, ArmError> {
    let mut out = BTreeMap::new();
    for item in items {
        let item = item.as_ref();
        let (k, v) = item
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| ArmError::Parameter {
                name: item.to_string(),
                message: "--set expects name=value".into(),
            })?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

/// The largest template or parameters file read, in bytes: Azure refuses a template or a
/// parameters file over 4 MB
/// (https://learn.microsoft.com/azure/azure-resource-manager/templates/error-job-size-exceeded),
/// so a bigger one (or a device that never ends) is an error, not read whole.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads a template or parameters file of at most [`MAX_FILE_BYTES`].
pub fn read_file(p: &Path) -> Result<String, ArmError> {
    use std::io::Read;
    let io = |e: std::io::Error| ArmError::Io {
        file: p.display().to_string(),
        message: e.to_string(),
    };
    let mut text = String::new();
    std::fs::File::open(p)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ArmError::Io {
            file: p.display().to_string(),
            message: format!(
                "larger than {MAX_FILE_BYTES} bytes, the 4 MB Azure allows a template or parameters file"
            ),
        });
    }
    Ok(text)
}

/// Reads and evaluates a template file, with an optional parameters file; linked templates
/// are resolved against the template's directory. `opts.parameters` (and overrides) take
/// precedence over the parameters file.
pub fn evaluate_file(
    template: &Path,
    parameters: Option<&Path>,
    opts: EvalOptions<'_>,
) -> Result<EvaluatedTemplate, ArmError> {
    let text = read_file(template)?;
    let params = match parameters {
        Some(p) => Some((read_file(p)?, p.display().to_string())),
        None => None,
    };
    let mut opts = opts;
    if opts.template_dir.is_none() {
        opts.template_dir = template.parent().map(Path::to_path_buf);
    }
    evaluate_text(
        &text,
        &template.display().to_string(),
        params.as_ref().map(|(t, f)| (t.as_str(), f.as_str())),
        opts,
    )
}

/// Evaluates a template given as text (`file` names it in messages and in
/// `deployment().properties.templateLink.uri`), with an optional parameters file as (text,
/// name). Linked templates are read only under `opts.template_dir`; without one, a
/// `templateLink` is an error, so text from anywhere never makes the evaluation read a file.
pub fn evaluate_text(
    text: &str,
    file: &str,
    parameters: Option<(&str, &str)>,
    opts: EvalOptions<'_>,
) -> Result<EvaluatedTemplate, ArmError> {
    let too_big = |what: &str, name: &str, len: usize| {
        (len as u64 > MAX_FILE_BYTES).then(|| ArmError::Io {
            file: name.to_string(),
            message: format!(
                "the {what} is larger than {MAX_FILE_BYTES} bytes, the 4 MB Azure allows"
            ),
        })
    };
    if let Some(e) = too_big("template", file, text.len()) {
        return Err(e);
    }
    let t = json::parse(text).map_err(|source| ArmError::Json {
        file: file.to_string(),
        source,
    })?;
    let mut opts = opts;
    if let Some((ptext, pfile)) = parameters {
        if let Some(e) = too_big("parameters file", pfile, ptext.len()) {
            return Err(e);
        }
        let mut from_file = parse_parameters_file(ptext, pfile)?;
        from_file.append(&mut opts.parameters);
        opts.parameters = from_file;
    }
    if opts.template_uri.is_none() {
        opts.template_uri = Some(file.to_string());
    }
    evaluate(&t, &opts).map_err(|e| with_position(e, file, text))
}

/// Adds the line and column of a template error's JSON path: in `text` when the error is in
/// the main template `main`, else reading the linked template's file back.
fn with_position(e: ArmError, main: &str, text: &str) -> ArmError {
    let ArmError::Template {
        file,
        position: None,
        path,
        message,
    } = e
    else {
        return e;
    };
    // In a linked template the path continues after `<its file>.`; copy markers stay.
    let mut inner = path.as_str();
    let mut search = path.as_str();
    while let Some(i) = search.find('<') {
        let rest = &search[i + 1..];
        let Some(end) = rest.find('>') else { break };
        if !rest.starts_with("copy ") {
            inner = rest[end + 1..].trim_start_matches('.');
        }
        search = &rest[end + 1..];
    }
    let position = if file == main {
        json::locate(text, inner)
    } else {
        read_file(Path::new(&file))
            .ok()
            .and_then(|text| json::locate(&text, inner))
    };
    ArmError::Template {
        file,
        position,
        path,
        message,
    }
}
