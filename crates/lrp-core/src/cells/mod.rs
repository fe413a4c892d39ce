//! The recurrent cells, one module each: the forward step with what the relevance pass keeps,
//! and the relevance of a step under each gate rule.

pub(crate) mod gru;
pub(crate) mod lstm;
