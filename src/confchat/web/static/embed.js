// The embed page (being written).
import { pageSettings } from "./irc.js";
pageSettings();
