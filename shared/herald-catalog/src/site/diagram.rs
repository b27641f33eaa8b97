//! `flow.svg`: the whole flow in one picture, plain SVG without script, read left to right.
//!
//! The nodes are the external producers, the events, the functions and the external consumers;
//! an edge runs from each producer to the event it publishes and from each event to every function
//! (or external consumer) that receives it. The layout is a small Sugiyama-style pipeline:
//!
//! 1. **Cycles** (a function reacting to an event downstream of its own) are broken by a
//!    depth-first search: an edge back to a node still on the search's stack is turned around for
//!    the layout, then drawn dashed with its arrowhead at the start, so it still points the right way.
//! 2. **Columns**: a node's column is its longest path from a node that nothing feeds; such
//!    unfed nodes are then pulled right, next to the first node they feed.
//! 3. **Long edges** get a waypoint in every column they cross, so they run between boxes.
//! 4. **Order** within each column: barycentre sweeps, keeping the order with the fewest crossings.
//! 5. **Heights**: each node moves towards the mean height of its neighbours without overlapping
//!    the other nodes of its column (an isotonic regression per column, in alternating sweeps).
//!
//! Text widths are estimated (7px a character at 12px, 6px at 10px): no font is measured.

use std::collections::{BTreeMap, BTreeSet};

use maud::{Markup, html};

use crate::graph::{Flow, Producer};
use crate::model::Catalog;

use super::{event_file, function_file, href};

/// Average advance of a character of a 12px label.
const LABEL_CHAR: f64 = 7.0;
/// Average advance of a character of a 10px note.
const NOTE_CHAR: f64 = 6.0;
const PAD_X: f64 = 12.0;
const MIN_WIDTH: f64 = 64.0;
const NODE_HEIGHT: f64 = 36.0;
/// A long edge's waypoint is thin: it only reserves the edge a lane between its column's boxes.
const WAYPOINT_HEIGHT: f64 = 2.0;
const WAYPOINT_WIDTH: f64 = 16.0;
const GAP_Y: f64 = 14.0;
/// The distance between the ends of edges that leave or enter one side of a box.
const PORT_GAP: f64 = 5.0;
/// Wide enough for the curves between columns to stay readable where many edges fan out.
const GAP_X: f64 = 72.0;
const MARGIN: f64 = 16.0;
const LEGEND_HEIGHT: f64 = 34.0;
/// Ordering and height sweeps; the graphs are small, and more sweeps stopped helping long before this.
const SWEEPS: usize = 16;
const EDGE_COLOUR: &str = "#7d8899";
const TEXT_COLOUR: &str = "#1d2330";
const NOTE_COLOUR: &str = "#5f6b7a";

/// The SVG document of the flow, with links relative to the site's root.
pub(super) fn render(catalog: &Catalog, flow: &Flow) -> Markup {
    let graph = Graph::of(catalog, flow);
    let layout = Layout::of(&graph);
    draw(&graph, &layout)
}

/// What a box stands for, which decides how it looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Event,
    /// Published by a function but missing from the catalog (`catalog check` says so too).
    Uncatalogued,
    Function,
    External,
}

/// How a kind's boxes are drawn.
struct Look {
    fill: &'static str,
    stroke: &'static str,
    radius: u32,
    dash: Option<&'static str>,
    bold: bool,
    legend: &'static str,
}

impl Kind {
    fn look(self) -> Look {
        match self {
            Kind::Event => Look {
                fill: "#fff4d6",
                stroke: "#c99400",
                radius: 16,
                dash: None,
                bold: false,
                legend: "event",
            },
            Kind::Uncatalogued => Look {
                fill: "#fde8e8",
                stroke: "#c0392b",
                radius: 16,
                dash: Some("4 3"),
                bold: false,
                legend: "event missing from the catalog",
            },
            Kind::Function => Look {
                fill: "#e3eefc",
                stroke: "#3b6fb6",
                radius: 4,
                dash: None,
                bold: true,
                legend: "function",
            },
            Kind::External => Look {
                fill: "#f1f1f1",
                stroke: "#7a7a7a",
                radius: 4,
                dash: Some("4 3"),
                bold: false,
                legend: "outside this repository",
            },
        }
    }
}

/// A node's identity: the same external system may both publish and receive, and is then drawn
/// twice, once on each side, rather than making a cycle through itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Producer(String),
    Event(String, String),
    Function(String),
    Consumer(String),
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    label: String,
    note: String,
    /// Relative to the site's root.
    href: Option<String>,
}

impl Node {
    fn width(&self) -> f64 {
        let chars = |text: &str| text.chars().count() as f64;
        let text = (chars(&self.label) * LABEL_CHAR).max(chars(&self.note) * NOTE_CHAR);
        (text + 2.0 * PAD_X).max(MIN_WIDTH)
    }
}

#[derive(Debug, Default)]
struct Graph {
    nodes: Vec<Node>,
    keys: BTreeMap<Key, usize>,
    edges: BTreeSet<(usize, usize)>,
}

impl Graph {
    fn of(catalog: &Catalog, flow: &Flow) -> Self {
        let mut graph = Self::default();
        for event in &catalog.events {
            let target = graph.event(&event.source, &event.detail_type, true);
            let links = flow.links(event);
            for (producer, _) in &links.producers {
                let from = match producer {
                    Producer::Function(binary) => graph.function(binary),
                    Producer::External(name) => graph.external(Key::Producer(name.clone()), name, "publishes"),
                };
                graph.edges.insert((from, target));
            }
            for consumer in &links.consumers {
                let to = graph.function(&consumer.function);
                graph.edges.insert((target, to));
            }
            for name in &event.declared.external_consumers {
                let to = graph.external(Key::Consumer(name.clone()), name, "receives");
                graph.edges.insert((target, to));
            }
        }
        for function in &flow.functions {
            let from = graph.function(&function.binary);
            for emitted in function.emits.iter().flatten() {
                if catalog.event(&emitted.source, &emitted.detail_type).is_none() {
                    let to = graph.event(&emitted.source, &emitted.detail_type, false);
                    graph.edges.insert((from, to));
                }
            }
        }
        graph
    }

    fn add(&mut self, key: Key, node: impl FnOnce() -> Node) -> usize {
        if let Some(&index) = self.keys.get(&key) {
            return index;
        }
        self.nodes.push(node());
        let index = self.nodes.len() - 1;
        self.keys.insert(key, index);
        index
    }

    fn event(&mut self, source: &str, detail_type: &str, catalogued: bool) -> usize {
        self.add(Key::Event(source.to_owned(), detail_type.to_owned()), || Node {
            kind: if catalogued { Kind::Event } else { Kind::Uncatalogued },
            label: detail_type.to_owned(),
            note: source.to_owned(),
            href: catalogued.then(|| href(&event_file(source, detail_type))),
        })
    }

    fn function(&mut self, binary: &str) -> usize {
        self.add(Key::Function(binary.to_owned()), || Node {
            kind: Kind::Function,
            label: binary.to_owned(),
            note: "function".to_owned(),
            href: Some(href(&function_file(binary))),
        })
    }

    fn external(&mut self, key: Key, name: &str, role: &str) -> usize {
        self.add(key, || Node {
            kind: Kind::External,
            label: name.to_owned(),
            note: format!("external, {role}"),
            href: None,
        })
    }
}

/// A box or a long edge's waypoint, in one column.
#[derive(Debug, Clone)]
struct Vertex {
    column: usize,
    width: f64,
    height: f64,
    /// Top edge, from the top of the drawing area.
    y: f64,
}

#[derive(Debug, Clone)]
struct Column {
    x: f64,
    width: f64,
}

/// An edge as the vertices it passes, left to right.
#[derive(Debug, Clone)]
struct Chain {
    vertices: Vec<usize>,
    /// Turned around to break a cycle: the arrow points to the first vertex.
    turned: bool,
}

#[derive(Debug)]
struct Layout {
    /// The graph's nodes under the same indices, then the waypoints.
    vertices: Vec<Vertex>,
    chains: Vec<Chain>,
    /// Where each chain leaves its first box and enters its last, from the drawing area's top:
    /// edges sharing a side are spread along it, so they can be told apart.
    ports: Vec<(f64, f64)>,
    columns: Vec<Column>,
    width: f64,
    height: f64,
}

impl Layout {
    fn of(graph: &Graph) -> Self {
        let count = graph.nodes.len();
        let acyclic = break_cycles(count, &graph.edges);
        let ranks = ranks(count, &acyclic);
        let mut vertices: Vec<Vertex> = graph
            .nodes
            .iter()
            .zip(&ranks)
            .map(|(node, &column)| Vertex {
                column,
                width: node.width(),
                height: NODE_HEIGHT,
                y: 0.0,
            })
            .collect();
        let mut chains = Vec::new();
        for &(from, to, turned) in &acyclic {
            let mut chain = vec![from];
            for column in ranks[from] + 1..ranks[to] {
                vertices.push(Vertex {
                    column,
                    width: WAYPOINT_WIDTH,
                    height: WAYPOINT_HEIGHT,
                    y: 0.0,
                });
                chain.push(vertices.len() - 1);
            }
            chain.push(to);
            chains.push(Chain {
                vertices: chain,
                turned,
            });
        }
        let mut preds = vec![Vec::new(); vertices.len()];
        let mut succs = vec![Vec::new(); vertices.len()];
        for chain in &chains {
            for pair in chain.vertices.windows(2) {
                succs[pair[0]].push(pair[1]);
                preds[pair[1]].push(pair[0]);
            }
        }
        let column_count = ranks.iter().max().map_or(0, |last| last + 1);
        let mut orders = vec![Vec::new(); column_count];
        for (index, vertex) in vertices.iter().enumerate() {
            orders[vertex.column].push(index);
        }
        let orders = order(orders, &preds, &succs);
        place(&mut vertices, &orders, &preds, &succs);
        let ports = ports(&vertices, &chains, count);

        let mut columns = Vec::with_capacity(column_count);
        let mut x = MARGIN;
        for order in &orders {
            let width = order.iter().map(|&v| vertices[v].width).fold(WAYPOINT_WIDTH, f64::max);
            columns.push(Column { x, width });
            x += width + GAP_X;
        }
        let width = columns.last().map_or(0.0, |c| c.x + c.width) + MARGIN;
        let bottom = vertices.iter().map(|v| v.y + v.height).fold(0.0, f64::max);
        Self {
            vertices,
            chains,
            ports,
            columns,
            width,
            height: MARGIN + LEGEND_HEIGHT + bottom + MARGIN,
        }
    }

    /// The left edge of a vertex: boxes are centred in their column, waypoints span it.
    fn left(&self, vertex: usize) -> f64 {
        let v = &self.vertices[vertex];
        let column = &self.columns[v.column];
        column.x + (column.width - v.width.min(column.width)) / 2.0
    }

    fn right(&self, vertex: usize) -> f64 {
        self.left(vertex)
            + self.vertices[vertex]
                .width
                .min(self.columns[self.vertices[vertex].column].width)
    }

    fn top(&self, vertex: usize) -> f64 {
        MARGIN + LEGEND_HEIGHT + self.vertices[vertex].y
    }

    fn middle(&self, vertex: usize) -> f64 {
        self.top(vertex) + self.vertices[vertex].height / 2.0
    }

    /// The path of a chain: a horizontal-ended curve between columns, a straight run through each
    /// waypoint's column.
    fn path(&self, index: usize) -> String {
        let chain = &self.chains[index];
        let (start, end) = self.ports[index];
        let last = chain.vertices.len() - 1;
        let mut d = String::new();
        let mut previous: Option<(f64, f64)> = None;
        for (position, &vertex) in chain.vertices.iter().enumerate() {
            let waypoint = position != 0 && position != last;
            let (left, right, y) = if waypoint {
                let column = &self.columns[self.vertices[vertex].column];
                (column.x, column.x + column.width, self.middle(vertex))
            } else {
                let port = if position == 0 { start } else { end };
                (self.left(vertex), self.right(vertex), MARGIN + LEGEND_HEIGHT + port)
            };
            match previous {
                None => d.push_str(&format!("M{} {}", round(right), round(y))),
                Some((x0, y0)) => {
                    let bend = (left - x0) / 2.0;
                    d.push_str(&format!(
                        " C{} {} {} {} {} {}",
                        round(x0 + bend),
                        round(y0),
                        round(left - bend),
                        round(y),
                        round(left),
                        round(y)
                    ));
                    if waypoint {
                        d.push_str(&format!(" L{} {}", round(right), round(y)));
                    }
                }
            }
            previous = Some((right, y));
        }
        d
    }
}

/// Where each chain leaves its first box and enters its last: the edges on one side of a box are
/// spread over its middle, in the order of the boxes at their other ends, so that they do not cross there.
fn ports(vertices: &[Vertex], chains: &[Chain], boxes: usize) -> Vec<(f64, f64)> {
    let middle = |v: usize| vertices[v].y + vertices[v].height / 2.0;
    let mut ports: Vec<(f64, f64)> = Vec::with_capacity(chains.len());
    let mut outgoing: Vec<Vec<(f64, usize)>> = vec![Vec::new(); boxes];
    let mut incoming: Vec<Vec<(f64, usize)>> = vec![Vec::new(); boxes];
    for (index, chain) in chains.iter().enumerate() {
        if let ([first, next, ..], [.., before, last]) = (&chain.vertices[..], &chain.vertices[..]) {
            outgoing[*first].push((middle(*next), index));
            incoming[*last].push((middle(*before), index));
            ports.push((middle(*first), middle(*last)));
        } else {
            ports.push((0.0, 0.0));
        }
    }
    for (vertex, sides) in outgoing.into_iter().zip(incoming).enumerate() {
        for (outgoing, mut ends) in [(true, sides.0), (false, sides.1)] {
            if ends.len() < 2 {
                continue;
            }
            ends.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let steps = (ends.len() - 1) as f64;
            let spread = (NODE_HEIGHT * 0.6).min(steps * PORT_GAP);
            for (step, (_, chain)) in ends.into_iter().enumerate() {
                let y = middle(vertex) - spread / 2.0 + step as f64 * spread / steps;
                if outgoing {
                    ports[chain].0 = y;
                } else {
                    ports[chain].1 = y;
                }
            }
        }
    }
    ports
}

/// The edges with every cycle broken: `(from, to, turned)`, where a turned edge was `to → from`.
fn break_cycles(count: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<(usize, usize, bool)> {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        New,
        OnStack,
        Done,
    }
    fn visit(node: usize, succs: &[Vec<usize>], state: &mut [State], out: &mut Vec<(usize, usize, bool)>) {
        state[node] = State::OnStack;
        for &next in &succs[node] {
            match state[next] {
                State::New => {
                    out.push((node, next, false));
                    visit(next, succs, state, out);
                }
                State::OnStack => out.push((next, node, true)),
                State::Done => out.push((node, next, false)),
            }
        }
        state[node] = State::Done;
    }
    let mut succs = vec![Vec::new(); count];
    let mut fed = vec![false; count];
    for &(from, to) in edges {
        succs[from].push(to);
        fed[to] = true;
    }
    let mut state = vec![State::New; count];
    let mut out = Vec::with_capacity(edges.len());
    // Unfed nodes first, so that the search follows the flow and turns as few edges as it can.
    let starts = (0..count).filter(|&n| !fed[n]).chain((0..count).filter(|&n| fed[n]));
    for start in starts.collect::<Vec<_>>() {
        if state[start] == State::New {
            visit(start, &succs, &mut state, &mut out);
        }
    }
    out
}

/// Each node's column: the longest path to it, then unfed nodes moved next to what they feed.
fn ranks(count: usize, edges: &[(usize, usize, bool)]) -> Vec<usize> {
    let mut succs = vec![Vec::new(); count];
    let mut indegree = vec![0_usize; count];
    for &(from, to, _) in edges {
        succs[from].push(to);
        indegree[to] += 1;
    }
    let mut rank = vec![0_usize; count];
    let mut remaining = indegree.clone();
    let mut ready: Vec<usize> = (0..count).filter(|&n| indegree[n] == 0).collect();
    while let Some(node) = ready.pop() {
        for &next in &succs[node] {
            rank[next] = rank[next].max(rank[node] + 1);
            remaining[next] -= 1;
            if remaining[next] == 0 {
                ready.push(next);
            }
        }
    }
    for node in (0..count).filter(|&n| indegree[n] == 0) {
        if let Some(nearest) = succs[node].iter().map(|&next| rank[next]).min() {
            rank[node] = nearest - 1;
        }
    }
    rank
}

/// Orders each column by barycentre sweeps, down then up, keeping the best order seen.
fn order(mut orders: Vec<Vec<usize>>, preds: &[Vec<usize>], succs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut position = vec![0_usize; preds.len()];
    for column in &orders {
        for (index, &vertex) in column.iter().enumerate() {
            position[vertex] = index;
        }
    }
    let mut best = (crossings(&orders, succs, &position), orders.clone());
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let (neighbours, columns): (_, Vec<usize>) = if down {
            (preds, (1..orders.len()).collect())
        } else {
            (succs, (0..orders.len().saturating_sub(1)).rev().collect())
        };
        for column in columns {
            let mut keyed: Vec<(f64, usize)> = orders[column]
                .iter()
                .map(|&v| {
                    (
                        mean(neighbours[v].iter().map(|&n| position[n] as f64)).unwrap_or(position[v] as f64),
                        v,
                    )
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            orders[column] = keyed.into_iter().map(|(_, v)| v).collect();
            for (index, &vertex) in orders[column].iter().enumerate() {
                position[vertex] = index;
            }
        }
        let count = crossings(&orders, succs, &position);
        if count < best.0 {
            best = (count, orders.clone());
        }
    }
    best.1
}

/// How many pairs of segments cross between neighbouring columns.
fn crossings(orders: &[Vec<usize>], succs: &[Vec<usize>], position: &[usize]) -> usize {
    orders
        .iter()
        .map(|column| {
            let segments: Vec<(usize, usize)> = column
                .iter()
                .flat_map(|&v| succs[v].iter().map(move |&w| (position[v], position[w])))
                .collect();
            segments
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    segments[i + 1..]
                        .iter()
                        .filter(|b| (a.0 < b.0 && a.1 > b.1) || (a.0 > b.0 && a.1 < b.1))
                        .count()
                })
                .sum::<usize>()
        })
        .sum()
}

/// Sets each vertex's `y`: towards its neighbours, in its column's order, never overlapping.
fn place(vertices: &mut [Vertex], orders: &[Vec<usize>], preds: &[Vec<usize>], succs: &[Vec<usize>]) {
    for column in orders {
        let mut y = 0.0;
        for &vertex in column {
            vertices[vertex].y = y;
            y += vertices[vertex].height + GAP_Y;
        }
    }
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let neighbours = if down { preds } else { succs };
        let columns: Vec<usize> = if down {
            (0..orders.len()).collect()
        } else {
            (0..orders.len()).rev().collect()
        };
        for column in columns.into_iter().map(|c| &orders[c]) {
            let centre = |v: usize| vertices[v].y + vertices[v].height / 2.0;
            // Vertex i's centre must be at least `offsets[i]` below the first one's: fitting
            // `centre - offset` as a non-decreasing sequence keeps the order and the gaps.
            let mut offsets = Vec::with_capacity(column.len());
            let mut targets = Vec::with_capacity(column.len());
            let mut offset = 0.0;
            for (index, &vertex) in column.iter().enumerate() {
                if let Some(&above) = index.checked_sub(1).and_then(|i| column.get(i)) {
                    offset += (vertices[above].height + vertices[vertex].height) / 2.0 + GAP_Y;
                }
                let wanted = mean(neighbours[vertex].iter().map(|&n| centre(n))).unwrap_or_else(|| centre(vertex));
                offsets.push(offset);
                targets.push(wanted - offset);
            }
            for ((&vertex, fitted), offset) in column.iter().zip(isotonic(&targets)).zip(offsets) {
                vertices[vertex].y = fitted + offset - vertices[vertex].height / 2.0;
            }
        }
    }
    let top = vertices.iter().map(|v| v.y).fold(f64::INFINITY, f64::min);
    if top.is_finite() {
        for vertex in vertices.iter_mut() {
            vertex.y -= top;
        }
    }
}

/// The non-decreasing sequence closest to `targets` (least squares): pool adjacent violators.
fn isotonic(targets: &[f64]) -> Vec<f64> {
    let mut blocks: Vec<(f64, usize)> = Vec::with_capacity(targets.len());
    for &target in targets {
        blocks.push((target, 1));
        while let [.., (sum_a, count_a), (sum_b, count_b)] = blocks[..] {
            if sum_a / count_a as f64 <= sum_b / count_b as f64 {
                break;
            }
            blocks.truncate(blocks.len() - 2);
            blocks.push((sum_a + sum_b, count_a + count_b));
        }
    }
    blocks
        .into_iter()
        .flat_map(|(sum, count)| std::iter::repeat_n(sum / count as f64, count))
        .collect()
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values.fold((0.0, 0_usize), |(sum, count), v| (sum + v, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// A coordinate to a tenth of a pixel, printed without trailing zeros.
fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

fn draw(graph: &Graph, layout: &Layout) -> Markup {
    let mut kinds: Vec<Kind> = Vec::new();
    for kind in [Kind::Event, Kind::Function, Kind::External, Kind::Uncatalogued] {
        if kind != Kind::Uncatalogued || graph.nodes.iter().any(|n| n.kind == kind) {
            kinds.push(kind);
        }
    }
    let any_turned = layout.chains.iter().any(|c| c.turned);
    let legend_width: f64 = kinds
        .iter()
        .map(|k| 40.0 + k.look().legend.len() as f64 * NOTE_CHAR)
        .sum::<f64>()
        + if any_turned { 200.0 } else { 0.0 };
    let width = round(layout.width.max(legend_width + 2.0 * MARGIN));
    let height = round(layout.height);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)}
            font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12"
            role="img" aria-labelledby="flow-title" {
            title id="flow-title" { "The event flow: who publishes each event, and who receives it" }
            defs {
                marker id="flow-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7"
                    orient="auto-start-reverse" {
                    path d="M0 0L10 5L0 10z" fill=(EDGE_COLOUR) {}
                }
            }
            (legend(&kinds, any_turned))
            g fill="none" stroke=(EDGE_COLOUR) stroke-width="1.3" {
                @for (index, chain) in layout.chains.iter().enumerate() {
                    path d=(layout.path(index))
                        marker-end=[(!chain.turned).then_some("url(#flow-arrow)")]
                        marker-start=[chain.turned.then_some("url(#flow-arrow)")]
                        stroke-dasharray=[chain.turned.then_some("5 4")] {}
                }
            }
            g {
                @for (index, node) in graph.nodes.iter().enumerate() {
                    @let shape = node_shape(node, layout, index);
                    @if let Some(href) = &node.href {
                        a href=(href) { (shape) }
                    } @else {
                        g { (shape) }
                    }
                }
            }
        }
    }
}

fn legend(kinds: &[Kind], any_turned: bool) -> Markup {
    let mut x = MARGIN;
    let mut entries = Vec::new();
    for kind in kinds {
        entries.push((x, kind.look()));
        x += 40.0 + kind.look().legend.len() as f64 * NOTE_CHAR;
    }
    html! {
        g font-size="10" fill=(NOTE_COLOUR) {
            @for (x, look) in &entries {
                rect x=(round(*x)) y=(MARGIN) width="26" height="14" rx=(look.radius.min(7)) fill=(look.fill)
                    stroke=(look.stroke) stroke-dasharray=[look.dash] {}
                text x=(round(x + 32.0)) y=(MARGIN + 11.0) { (look.legend) }
            }
            @if any_turned {
                path d={"M" (round(x)) " " (MARGIN + 7.0) "h30"} stroke=(EDGE_COLOUR) stroke-dasharray="5 4"
                    marker-start="url(#flow-arrow)" {}
                text x=(round(x + 36.0)) y=(MARGIN + 11.0) { "feeds back upstream" }
            }
        }
    }
}

fn node_shape(node: &Node, layout: &Layout, index: usize) -> Markup {
    let (x, y) = (layout.left(index), layout.top(index));
    let width = layout.right(index) - x;
    let look = node.kind.look();
    let centre = round(x + width / 2.0);
    html! {
        title { (look.legend) ": " (node.label) " (" (node.note) ")" }
        rect x=(round(x)) y=(round(y)) width=(round(width)) height=(NODE_HEIGHT) rx=(look.radius) fill=(look.fill)
            stroke=(look.stroke) stroke-width="1.2" stroke-dasharray=[look.dash] {}
        text x=(centre) y=(round(y + 16.0)) text-anchor="middle" fill=(TEXT_COLOUR)
            font-weight=[look.bold.then_some("600")] { (node.label) }
        text x=(centre) y=(round(y + 29.0)) text-anchor="middle" font-size="10" fill=(NOTE_COLOUR) { (node.note) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_broken_by_turning_one_edge_around() {
        // Given a → b → c → a, and c → d
        let edges = BTreeSet::from([(0, 1), (1, 2), (2, 0), (2, 3)]);
        // When the cycles are broken
        let acyclic = break_cycles(4, &edges);
        // Then exactly one edge is turned, and the columns follow the remaining edges
        assert_eq!(acyclic.iter().filter(|e| e.2).count(), 1, "{acyclic:?}");
        assert_eq!(acyclic.len(), edges.len());
        let ranks = ranks(4, &acyclic);
        assert!(
            acyclic.iter().all(|&(from, to, _)| ranks[from] < ranks[to]),
            "{ranks:?}"
        );
    }

    #[test]
    fn an_unfed_node_is_pulled_next_to_the_node_it_feeds() {
        // Given a → b → c and x → c
        let acyclic = [(0, 1, false), (1, 2, false), (3, 2, false)];
        // Then x sits in the column just before c
        assert_eq!(ranks(4, &acyclic), [0, 1, 2, 1]);
    }

    #[test]
    fn the_isotonic_fit_pools_values_that_are_out_of_order() {
        assert_eq!(isotonic(&[1.0, 3.0, 2.0, 4.0]), [1.0, 2.5, 2.5, 4.0]);
        assert_eq!(isotonic(&[3.0, 2.0, 1.0]), [2.0, 2.0, 2.0]);
        assert!(isotonic(&[]).is_empty());
    }

    #[test]
    fn boxes_in_one_column_never_overlap() {
        // Given three sources all feeding one node, and one long edge
        let edges = BTreeSet::from([(0, 3), (1, 3), (2, 3), (3, 4), (0, 4)]);
        let graph = Graph {
            nodes: (0..5)
                .map(|i| Node {
                    kind: Kind::Function,
                    label: format!("node-{i}"),
                    note: String::new(),
                    href: None,
                })
                .collect(),
            keys: BTreeMap::new(),
            edges,
        };
        // When laid out
        let layout = Layout::of(&graph);
        // Then every column's vertices keep at least the gap between them
        for column in 0..layout.columns.len() {
            let mut spans: Vec<(f64, f64)> = layout
                .vertices
                .iter()
                .filter(|v| v.column == column)
                .map(|v| (v.y, v.y + v.height))
                .collect();
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            for pair in spans.windows(2) {
                assert!(pair[1].0 - pair[0].1 >= GAP_Y - 0.01, "{spans:?}");
            }
        }
        // And the long edge has a waypoint in the column it crosses
        assert_eq!(layout.vertices.len(), 6);
    }
}
