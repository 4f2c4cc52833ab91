//! The wizard's shell: the project page with its steps header, routing to the step asked
//! for (or the furthest one reached). It sits above the steps and holds no domain logic:
//! each step is its own part (`brief`, `moods`, `storyboard`, `render`).

pub mod pages;
