//! The final pass: labels become offsets. A conditional jump reaches at most 255 instructions
//! ahead; a farther target gets a trampoline within reach (a copy of the target's `ret` or
//! `ja` when it is one, else a `ja` to it), and the layout is redone until every jump fits.

use super::asm::{Item, Label, JA, RET_K};
use crate::bpf::{SockFilter, BPF_MAXINSNS, MAX_COND_JUMP};

/// Why labels could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LayoutError {
    /// The program grew past [`BPF_MAXINSNS`] instructions.
    TooLong(usize),
    /// The label program is malformed (a generator bug).
    Malformed(String),
}

/// How far before the limit a trampoline is put, so later insertions between a jump and its
/// trampoline rarely push it out of reach again.
const SLACK: usize = 16;

/// Instruction positions of every label, and of every item.
struct Positions {
    label: Vec<Option<usize>>,
    item: Vec<usize>,
    len: usize,
}

fn positions(items: &[Item], labels: u32) -> Result<Positions, LayoutError> {
    let mut label = vec![None; labels as usize];
    let mut item = Vec::with_capacity(items.len());
    let mut pos = 0usize;
    for it in items {
        item.push(pos);
        match it {
            Item::Label(l) => {
                let slot = label
                    .get_mut(l.0 as usize)
                    .ok_or_else(|| LayoutError::Malformed(format!("unknown label {}", l.0)))?;
                if slot.is_some() {
                    return Err(LayoutError::Malformed(format!(
                        "label {} placed twice",
                        l.0
                    )));
                }
                *slot = Some(pos);
            }
            _ => pos += 1,
        }
    }
    Ok(Positions {
        label,
        item,
        len: pos,
    })
}

impl Positions {
    /// The forward distance from the jump at `from` to `target` (the jump offset).
    fn offset(&self, from: usize, target: Label) -> Result<usize, LayoutError> {
        let to = self
            .label
            .get(target.0 as usize)
            .copied()
            .flatten()
            .ok_or_else(|| LayoutError::Malformed(format!("label {} never placed", target.0)))?;
        if to <= from || to >= self.len {
            return Err(LayoutError::Malformed(format!(
                "jump at {from} to label {} at {to} does not go forward inside the program",
                target.0
            )));
        }
        Ok(to - from - 1)
    }
}

/// A conditional jump whose target is out of reach.
struct FarJump {
    /// Its item index.
    item: usize,
    /// Its instruction position.
    pos: usize,
    /// The target out of reach.
    target: Label,
}

/// The first conditional jump with a target out of reach, if any.
fn first_far_jump(items: &[Item], p: &Positions) -> Result<Option<FarJump>, LayoutError> {
    for (i, it) in items.iter().enumerate() {
        let pos = p.item[i];
        match it {
            Item::Jump { jt, jf, .. } => {
                for target in [*jt, *jf] {
                    if p.offset(pos, target)? > MAX_COND_JUMP {
                        return Ok(Some(FarJump {
                            item: i,
                            pos,
                            target,
                        }));
                    }
                }
            }
            Item::Ja(target) => {
                p.offset(pos, *target)?;
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The instruction a label stands before.
fn instruction_at(items: &[Item], label: Label) -> Option<Item> {
    let at = items.iter().position(|it| *it == Item::Label(label))?;
    items[at..]
        .iter()
        .copied()
        .find(|it| !matches!(it, Item::Label(_)))
}

/// Inserts one trampoline for `far` and retargets every jump it can serve.
fn insert_trampoline(
    items: &mut Vec<Item>,
    p: &Positions,
    far: &FarJump,
    new_label: Label,
) -> Result<(), LayoutError> {
    // Insertion points: right after an instruction that never falls through. The jump itself
    // is one, so there is always a point within reach.
    let limit = far.pos + MAX_COND_JUMP - SLACK;
    let mut at_item = far.item + 1;
    for (i, it) in items.iter().enumerate().skip(far.item + 1) {
        let pos = p.item[i];
        if pos > limit {
            break;
        }
        if it.ends_flow() {
            at_item = i + 1;
        }
    }
    let insert_pos = p.item.get(at_item).copied().unwrap_or(p.len);
    let body = match instruction_at(items, far.target) {
        Some(Item::Stmt { code, k }) if code == RET_K => Item::Stmt { code, k },
        Some(Item::Ja(l)) => Item::Ja(l),
        Some(_) => Item::Ja(far.target),
        None => {
            return Err(LayoutError::Malformed(format!(
                "label {} stands before no instruction",
                far.target.0
            )))
        }
    };
    // Every earlier jump to the same far target that can reach the trampoline uses it.
    for (i, it) in items.iter_mut().enumerate().take(at_item) {
        let pos = p.item[i];
        if let Item::Jump { jt, jf, .. } = it {
            for t in [jt, jf] {
                if *t == far.target
                    && p.offset(pos, far.target)? > MAX_COND_JUMP
                    && insert_pos - pos - 1 <= MAX_COND_JUMP
                {
                    *t = new_label;
                }
            }
        }
    }
    // A copied `ja` and a `ja` to the target both go forward: the target lies beyond the
    // insertion point, since the jump that needed the trampoline could not reach it.
    items.splice(at_item..at_item, [Item::Label(new_label), body]);
    Ok(())
}

/// Resolves labels to offsets, inserting trampolines where needed.
pub(crate) fn resolve(mut items: Vec<Item>, labels: u32) -> Result<Vec<SockFilter>, LayoutError> {
    let mut labels = labels;
    loop {
        let p = positions(&items, labels)?;
        if p.len > BPF_MAXINSNS {
            return Err(LayoutError::TooLong(p.len));
        }
        match first_far_jump(&items, &p)? {
            Some(far) => {
                let new_label = Label(labels);
                labels += 1;
                insert_trampoline(&mut items, &p, &far, new_label)?;
            }
            None => return emit(&items, &p),
        }
    }
}

/// Writes the instructions with resolved offsets.
fn emit(items: &[Item], p: &Positions) -> Result<Vec<SockFilter>, LayoutError> {
    let mut out = Vec::with_capacity(p.len);
    for (i, it) in items.iter().enumerate() {
        let pos = p.item[i];
        match *it {
            Item::Label(_) => {}
            Item::Stmt { code, k } => out.push(SockFilter::stmt(code, k)),
            Item::Jump { code, k, jt, jf } => {
                let narrow = |l: Label| -> Result<u8, LayoutError> {
                    u8::try_from(p.offset(pos, l)?)
                        .map_err(|_| LayoutError::Malformed("jump out of reach".into()))
                };
                out.push(SockFilter::jump(code, k, narrow(jt)?, narrow(jf)?));
            }
            Item::Ja(l) => {
                let off = u32::try_from(p.offset(pos, l)?)
                    .map_err(|_| LayoutError::Malformed("ja out of reach".into()))?;
                out.push(SockFilter::stmt(JA, off));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::{BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_W};

    #[test]
    fn far_jumps_get_trampolines() {
        // jeq → far ret; 300 filler blocks in between, each ending in a ret.
        let far = Label(0);
        let mut items = vec![Item::Jump {
            code: BPF_JMP | BPF_JEQ | BPF_K,
            k: 1,
            jt: far,
            jf: Label(1),
        }];
        items.push(Item::Label(Label(1)));
        for _ in 0..150 {
            items.push(Item::Stmt {
                code: BPF_LD | BPF_W | BPF_ABS,
                k: 0,
            });
            items.push(Item::Stmt { code: RET_K, k: 7 });
        }
        items.push(Item::Label(far));
        items.push(Item::Stmt { code: RET_K, k: 9 });
        let out = resolve(items, 2).unwrap();
        assert_eq!(out.len(), 303);
        let t = 1 + usize::from(out[0].jt);
        assert_eq!((out[t].code, out[t].k), (RET_K, 9), "a copy of the far ret");
        assert!(crate::verify::verify(&out).is_ok());
    }
}
